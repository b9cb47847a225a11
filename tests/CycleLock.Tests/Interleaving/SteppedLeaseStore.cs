using CycleLock.Persistence;

namespace CycleLock.Tests.Interleaving;

/// <summary>
/// A lease store whose calls do not run by themselves: each becomes a <see cref="PendingCall"/> that the
/// explorer commits (the database instant), then delivers or fails (before or after the commit).
/// </summary>
public sealed class SteppedLeaseStore(ILeaseStore inner) : ILeaseStore
{
    public List<PendingCall> Pending { get; } = [];

    public ILeaseStore Inner => inner;

    public Task<StoreResult> AcquireAsync(string name, Guid holderId, string label, LeaseKey key, TimeSpan ttl, string activation, CancellationToken cancellationToken) =>
        Enqueue("acquire", activation, () => inner.AcquireAsync(name, holderId, label, key, ttl, activation, CancellationToken.None));

    public Task<StoreResult> AdoptAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, CancellationToken cancellationToken) =>
        Enqueue("adopt", activation, () => inner.AdoptAsync(name, holderId, key, epoch, activation, CancellationToken.None));

    public Task<StoreResult> RenewAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken) =>
        Enqueue("renew", activation, () => inner.RenewAsync(name, holderId, epoch, activation, ttl, CancellationToken.None));

    public Task<StoreResult> ReleaseAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, ReleaseReason reason, bool byHolder, int maxStalls, CancellationToken cancellationToken) =>
        Enqueue("release:" + reason.ToText(), activation, () => inner.ReleaseAsync(name, holderId, key, epoch, activation, reason, byHolder, maxStalls, CancellationToken.None));

    public Task<StoreResult> ForceReleaseAsync(string name, long expectedEpoch, string reason, string by, string operatorName, bool skipDelay, string selfActivation, TimeSpan promiseLeft, TimeSpan margin, CancellationToken cancellationToken) =>
        Enqueue("force-release", selfActivation, () => inner.ForceReleaseAsync(name, expectedEpoch, reason, by, operatorName, skipDelay, selfActivation, promiseLeft, margin, CancellationToken.None));

    public Task<StoreResult> AbandonAsync(string name, Guid holderId, LeaseKey key, CancellationToken cancellationToken) =>
        Enqueue("abandon", "sdk", () => inner.AbandonAsync(name, holderId, key, CancellationToken.None));

    public Task<StoreResult> ResetAsync(string name, string by, string operatorName, CancellationToken cancellationToken) => inner.ResetAsync(name, by, operatorName, cancellationToken);

    public Task<LockInfo> GetAsync(string name, CancellationToken cancellationToken) => inner.GetAsync(name, cancellationToken);

    public Task<IReadOnlyList<LockInfo>> ListAsync(string? afterName, int limit, CancellationToken cancellationToken) => inner.ListAsync(afterName, limit, cancellationToken);

    public Task<int> PruneAsync(TimeSpan historyRetention, TimeSpan spentRetention, int batchSize, CancellationToken cancellationToken) => inner.PruneAsync(historyRetention, spentRetention, batchSize, cancellationToken);

    public Task<IReadOnlyList<LockHistoryEntry>> HistoryAsync(string name, long? beforeId, int limit, CancellationToken cancellationToken) => inner.HistoryAsync(name, beforeId, limit, cancellationToken);

    public Task<EventPage> EventsAsync(long afterId, int limit, CancellationToken cancellationToken) => inner.EventsAsync(afterId, limit, cancellationToken);

    public Task<long> LatestHistoryIdAsync(CancellationToken cancellationToken) => inner.LatestHistoryIdAsync(cancellationToken);

    private Task<StoreResult> Enqueue(string operation, string activation, Func<Task<StoreResult>> execute)
    {
        var call = new PendingCall(operation, activation, execute);
        Pending.Add(call);
        return call.Reply.Task;
    }
}

/// <summary>One store call in flight.</summary>
public sealed class PendingCall(string operation, string activation, Func<Task<StoreResult>> execute)
{
    public string Operation { get; } = operation;

    public string Activation { get; } = activation;

    public TaskCompletionSource<StoreResult> Reply { get; } = new();

    public StoreResult? Result { get; private set; }

    public bool Committed => Result is not null;

    /// <summary>The statement runs in the database (synchronously: the inner store is in memory).</summary>
    public void Commit() => Result = execute().GetAwaiter().GetResult();

    public override string ToString() => $"{Operation}@{Activation}{(Committed ? "(committed)" : string.Empty)}";
}
