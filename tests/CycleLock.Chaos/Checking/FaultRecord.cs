namespace CycleLock.Chaos.Checking;

/// <summary>One injected fault, timed on the database clock.</summary>
/// <param name="Kind">pg-terminate, pgbouncer-restart, pg-restart-fast, pg-restart-immediate, silo-kill, worker-stop, worker-stop-in-guard, worker-blackhole, ...</param>
/// <param name="StartDbUtc">When the fault began.</param>
/// <param name="EndDbUtc">When the fault ended.</param>
/// <param name="Target">What it hit ("worker-3", "silo-1"), or <see langword="null"/>.</param>
/// <param name="Budget">
/// The longest fault of this kind no live holder may lose its lease to: TTL − P − m for database faults,
/// ht − m_w − keep-alive interval − kt for silo faults, <see cref="TimeSpan.Zero"/> for worker-side faults
/// (the holder is expected to lose).
/// </param>
public sealed record FaultRecord(string Kind, DateTimeOffset StartDbUtc, DateTimeOffset EndDbUtc, string? Target, TimeSpan Budget)
{
    /// <summary>How long the fault lasted.</summary>
    public TimeSpan Duration => EndDbUtc - StartDbUtc;

    /// <summary>Whether this is a worker-side fault, whose holder is expected to lose (a zero budget).</summary>
    public bool ExpectsLoss => Budget == TimeSpan.Zero;

    /// <summary>Whether the fault exercised its kind within budget: it lasted at most its budget, or it expects a loss.</summary>
    public bool InBudget => ExpectsLoss || Duration <= Budget;
}
