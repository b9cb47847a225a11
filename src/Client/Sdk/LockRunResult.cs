namespace CycleLock.Client;

/// <summary>The honest outcome of <c>WithRefreshingLockAsync</c>; nothing is thrown for any of them.</summary>
/// <typeparam name="T">The work's result.</typeparam>
/// <param name="Outcome">How the run ended.</param>
/// <param name="Value">Completed: the work's result.</param>
/// <param name="NotAcquired">NotAcquired: the acquire result (busy holder, dead lock, queue full).</param>
/// <param name="LostReason">Lost: why ownership ended.</param>
/// <param name="Exception">Failed: what the work threw (a <see cref="TimeoutException"/> for an overrun).</param>
/// <param name="Epoch">The epoch the work ran under (0 when not acquired).</param>
/// <remarks><see cref="ReleaseError"/> is set when every release try failed (the grain then ends the lease
/// by stall, which burns no attempt but counts a stall).</remarks>
public sealed record LockRunResult<T>(
    LockRunOutcome Outcome,
    T? Value,
    AcquireResult? NotAcquired,
    string? LostReason,
    Exception? Exception,
    long Epoch)
{
    /// <summary>Set when every release try failed.</summary>
    public Exception? ReleaseError { get; init; }

    internal static LockRunResult<T> Completed(T value, long epoch) => new(LockRunOutcome.Completed, value, null, null, null, epoch);

    internal static LockRunResult<T> Busy(AcquireResult result) => new(LockRunOutcome.NotAcquired, default, result, null, null, 0);

    internal static LockRunResult<T> Lost(string reason, long epoch) => new(LockRunOutcome.Lost, default, null, reason, null, epoch);

    internal static LockRunResult<T> Failed(Exception exception, long epoch) => new(LockRunOutcome.Failed, default, null, null, exception, epoch);

    /// <inheritdoc />
    public override string ToString() => Outcome switch
    {
        LockRunOutcome.Completed => $"completed (epoch {Epoch})",
        LockRunOutcome.NotAcquired => $"not acquired: {NotAcquired}",
        LockRunOutcome.Lost => $"lost (epoch {Epoch}): {LostReason}",
        _ => $"failed (epoch {Epoch}): {Exception?.GetType().Name}: {Exception?.Message}",
    };
}
