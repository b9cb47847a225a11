using CycleLock.Persistence;

namespace CycleLock.Tests.Infrastructure;

/// <summary>
/// A lease-store decorator for fault and timing tests: a hook runs before each operation (to fail it,
/// let time pass, or hold it until released) and the inner store then executes it.
/// </summary>
public sealed class ControllableLeaseStore(ILeaseStore inner) : ILeaseStore
{
    /// <summary>Runs before every operation with its name; throw to fail the operation before it reaches the store.</summary>
    public Func<string, CancellationToken, Task>? Before { get; set; }

    /// <summary>Runs after the inner store executed an operation, before the reply is returned (the reply is "in flight").</summary>
    public Func<string, CancellationToken, Task>? After { get; set; }

    /// <summary>When it returns a result for an operation, that result is returned instead of calling the inner store.</summary>
    public Func<string, StoreResult?>? Override { get; set; }

    public int Calls { get; private set; }

    /// <summary>Every lease statement (operation, lock, monotonic timestamp when it was issued).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(string Operation, string Name, long Timestamp)> Statements { get; } = new();

    public ILeaseStore Inner => inner;

    public Task<StoreResult> AcquireAsync(string name, Guid holderId, string label, LeaseKey key, TimeSpan ttl, string activation, CancellationToken cancellationToken) =>
        Run("acquire", name, cancellationToken, () => inner.AcquireAsync(name, holderId, label, key, ttl, activation, cancellationToken));

    public Task<StoreResult> AdoptAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, CancellationToken cancellationToken) =>
        Run("adopt", name, cancellationToken, () => inner.AdoptAsync(name, holderId, key, epoch, activation, cancellationToken));

    public Task<StoreResult> RenewAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken) =>
        Run("renew", name, cancellationToken, () => inner.RenewAsync(name, holderId, epoch, activation, ttl, cancellationToken));

    public Task<StoreResult> ReleaseAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, ReleaseReason reason, bool byHolder, int maxStalls, CancellationToken cancellationToken) =>
        Run("release", name, cancellationToken, () => inner.ReleaseAsync(name, holderId, key, epoch, activation, reason, byHolder, maxStalls, cancellationToken));

    public Task<StoreResult> ForceReleaseAsync(string name, long expectedEpoch, string reason, string by, string operatorName, bool skipDelay, string selfActivation, TimeSpan promiseLeft, TimeSpan margin, CancellationToken cancellationToken) =>
        Run("force-release", name, cancellationToken, () => inner.ForceReleaseAsync(name, expectedEpoch, reason, by, operatorName, skipDelay, selfActivation, promiseLeft, margin, cancellationToken));

    public Task<StoreResult> AbandonAsync(string name, Guid holderId, LeaseKey key, CancellationToken cancellationToken) =>
        Run("abandon", name, cancellationToken, () => inner.AbandonAsync(name, holderId, key, cancellationToken));

    public Task<StoreResult> ResetAsync(string name, string by, string operatorName, CancellationToken cancellationToken) =>
        Run("reset", name, cancellationToken, () => inner.ResetAsync(name, by, operatorName, cancellationToken));

    public Task<LockInfo> GetAsync(string name, CancellationToken cancellationToken)
    {
        Statements.Enqueue(("get", name, TimeProvider.System.GetTimestamp()));
        return inner.GetAsync(name, cancellationToken);
    }

    public Task<IReadOnlyList<LockInfo>> ListAsync(string? afterName, int limit, CancellationToken cancellationToken) => inner.ListAsync(afterName, limit, cancellationToken);

    public Task<int> PruneAsync(TimeSpan historyRetention, TimeSpan spentRetention, int batchSize, CancellationToken cancellationToken) => inner.PruneAsync(historyRetention, spentRetention, batchSize, cancellationToken);

    public Task<IReadOnlyList<LockHistoryEntry>> HistoryAsync(string name, long? beforeId, int limit, CancellationToken cancellationToken) => inner.HistoryAsync(name, beforeId, limit, cancellationToken);

    public Task<EventPage> EventsAsync(long afterId, int limit, CancellationToken cancellationToken) => inner.EventsAsync(afterId, limit, cancellationToken);

    public Task<long> LatestHistoryIdAsync(CancellationToken cancellationToken) => inner.LatestHistoryIdAsync(cancellationToken);

    private async Task<StoreResult> Run(string operation, string name, CancellationToken cancellationToken, Func<Task<StoreResult>> execute)
    {
        Calls++;
        Statements.Enqueue((operation, name, TimeProvider.System.GetTimestamp()));
        if (Before is { } before)
        {
            await before(operation, cancellationToken);
        }

        var result = Override?.Invoke(operation) ?? await execute();
        if (After is { } after)
        {
            await after(operation, cancellationToken);
        }

        return result;
    }
}
