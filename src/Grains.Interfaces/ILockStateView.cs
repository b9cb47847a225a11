using Orleans.Concurrency;

namespace CycleLock;

/// <summary>
/// The lease an activation of the lock grain serves, for the Orleans Dashboard's grain-state view (it calls a grain
/// interface's parameterless <c>GetState</c>). Outside the worker contract: a client needs an operator credential;
/// the dashboard calls it from inside the silo. Never carries the lease key.
/// </summary>
[Alias("CycleLock.ILockStateView")]
public interface ILockStateView : IGrainWithStringKey
{
    /// <summary>What this activation serves now, from memory (no database statement).</summary>
    [AlwaysInterleave]
    [Alias("GetState")]
    Task<LockGrainState> GetState();
}

/// <summary>What a lock's activation serves: holder label (non-printing characters escaped), epoch, phase, time left
/// of its lease as this activation knows it, and waiters queued.</summary>
/// <param name="Name">The lock.</param>
/// <param name="Phase">Idle, Held, Ending or Lost.</param>
/// <param name="HolderLabel">The holder's label, when one is served.</param>
/// <param name="Epoch">The epoch served, when any.</param>
/// <param name="TimeLeftSeconds">Until the lease's deadline, when one is served.</param>
/// <param name="Waiters">Waiters queued for the lock.</param>
[GenerateSerializer]
[Alias("CycleLock.LockGrainState")]
public sealed record LockGrainState(
    [property: Id(0)] string Name,
    [property: Id(1)] string Phase,
    [property: Id(2)] string? HolderLabel,
    [property: Id(3)] long? Epoch,
    [property: Id(4)] double? TimeLeftSeconds,
    [property: Id(5)] int Waiters);
