namespace CycleLock.Persistence;

/// <summary>
/// The lease store (DESIGN §3). Every operation is one statement; expected outcomes are values.
/// Conditional operations never insert, steal or revive a lease.
/// </summary>
public interface ILeaseStore
{
    /// <summary>How long before its renew period a grain should hand its renewal in (a coalescing store sends
    /// it within this); zero for a store that sends each renewal at once.</summary>
    TimeSpan RenewalLead => TimeSpan.Zero;

    /// <summary>Grants when free or expired and past the fence; idempotent for the same holder and key.</summary>
    Task<StoreResult> AcquireAsync(string name, Guid holderId, string label, LeaseKey key, TimeSpan ttl, string activation, CancellationToken cancellationToken);

    /// <summary>Makes <paramref name="activation"/> the one serving a held, unexpired lease of this holder and key.</summary>
    Task<StoreResult> AdoptAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, CancellationToken cancellationToken);

    /// <summary>A scheduled renewal handed in <see cref="RenewalLead"/> before it is due (a coalescing store
    /// sends it within that lead); <see cref="RenewAsync"/> otherwise.</summary>
    Task<StoreResult> RenewAheadAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken) =>
        RenewAsync(name, holderId, epoch, activation, ttl, cancellationToken);

    /// <summary>Extends the lease by its TTL from the database's now, when holder, epoch, activation and TTL match.</summary>
    Task<StoreResult> RenewAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Ends the lease with <paramref name="reason"/>, when holder, key, epoch and activation match.
    /// <paramref name="byHolder"/> lowers the fence to now (the holder's own release); otherwise it is kept. A stall counts
    /// towards <paramref name="maxStalls"/> (the lock is dead at it; 0: never); -1 releases as stalled without counting it
    /// (a grant its holder never kept alive).</summary>
    Task<StoreResult> ReleaseAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, ReleaseReason reason, bool byHolder, int maxStalls, CancellationToken cancellationToken);

    /// <summary>Ends the lease of <paramref name="expectedEpoch"/>, bumps the epoch and fences the old holder's promises.</summary>
    Task<StoreResult> ForceReleaseAsync(string name, long expectedEpoch, string reason, string by, string operatorName, bool skipDelay, string selfActivation, TimeSpan promiseLeft, TimeSpan margin, CancellationToken cancellationToken);

    /// <summary>Spends <paramref name="holderId"/>, then releases a grant to it if there is one.</summary>
    Task<StoreResult> AbandonAsync(string name, Guid holderId, LeaseKey key, CancellationToken cancellationToken);

    /// <summary>Returns a dead lock to service.</summary>
    Task<StoreResult> ResetAsync(string name, string by, string operatorName, CancellationToken cancellationToken);

    /// <summary>The lock's row, or a free "does not exist" view.</summary>
    Task<LockInfo> GetAsync(string name, CancellationToken cancellationToken);

    /// <summary>Locks in name order after <paramref name="afterName"/>, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<LockInfo>> ListAsync(string? afterName, int limit, CancellationToken cancellationToken);

    /// <summary>Deletes at most <paramref name="batchSize"/> history rows older than <paramref name="historyRetention"/>
    /// and as many spent holder ids older than <paramref name="spentRetention"/>; returns the rows deleted.</summary>
    Task<int> PruneAsync(TimeSpan historyRetention, TimeSpan spentRetention, int batchSize, CancellationToken cancellationToken);

    /// <summary>History of one lock, newest first, with ids below <paramref name="beforeId"/> when given.</summary>
    Task<IReadOnlyList<LockHistoryEntry>> HistoryAsync(string name, long? beforeId, int limit, CancellationToken cancellationToken);

    /// <summary>End events a scheduler acts on (stalled, lost, expired, force-released) with ids above
    /// <paramref name="afterId"/>, oldest first, with the horizon of the snapshot they were read in.</summary>
    Task<EventPage> EventsAsync(long afterId, int limit, CancellationToken cancellationToken);

    /// <summary>The newest history id of this deployment (0 when there is none): where a feed starts "from now".</summary>
    Task<long> LatestHistoryIdAsync(CancellationToken cancellationToken);
}
