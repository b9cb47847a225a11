using CycleLock.Leasing;
using Microsoft.Extensions.Logging;

namespace CycleLock.Persistence;

/// <summary>
/// The silo's lease store with renewals and adoptions coalesced (DESIGN §11): each goes through a
/// <see cref="CoalescingQueue{TInput}"/> that writes everything pending in one statement per flush, so the
/// statements per renew period do not grow with the number of leases. Renewals are handed in
/// <see cref="CycleLockOptions.CoalescingWindow"/> before they are due and flushed when the most urgent one
/// falls due; adoptions (a holder is waiting) flush at once. Every other operation goes straight to the
/// inner store.
/// </summary>
public sealed class CoalescingLeaseStore : ILeaseStore, IAsyncDisposable
{
    private readonly ILeaseStore _inner;
    private readonly CoalescingQueue<RenewInput> _renewals;
    private readonly CoalescingQueue<AdoptInput> _adopts;
    private readonly TimeSpan _lead;

    /// <summary>Coalesces over <paramref name="inner"/>, which writes the batches.</summary>
    public CoalescingLeaseStore(PostgresLeaseStore inner, CycleLockOptions options, TimeProvider time, ILogger<CoalescingLeaseStore> logger, CycleLockMetrics? metrics = null)
        : this(inner, inner, options, time, logger, metrics)
    {
    }

    /// <summary>Coalesces over <paramref name="inner"/> with <paramref name="batches"/> writing the batches
    /// (the same store, or one a test wraps).</summary>
    public CoalescingLeaseStore(ILeaseStore inner, IBatchLeaseStore batches, CycleLockOptions options, TimeProvider time, ILogger<CoalescingLeaseStore> logger, CycleLockMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(options);
        _inner = inner;
        _lead = options.CoalescingWindow;
        _renewals = new CoalescingQueue<RenewInput>(
            "renew",
            static i => i.Name,
            batches.RenewManyAsync,
            i => LeaseTiming.For(i.Ttl, options).AttemptTimeout,
            (i, token) => inner.RenewAsync(i.Name, i.HolderId, i.Epoch, i.Activation, i.Ttl, token),
            _lead,
            options.MaxBatchSize,
            time,
            logger,
            metrics);
        _adopts = new CoalescingQueue<AdoptInput>(
            "adopt",
            static i => i.Name,
            batches.AdoptManyAsync,
            _ => options.MaxAttemptTimeout,
            (i, token) => inner.AdoptAsync(i.Name, i.HolderId, i.Key, i.Epoch, i.Activation, token),
            TimeSpan.Zero,
            options.MaxBatchSize,
            time,
            logger,
            metrics);
    }

    /// <inheritdoc />
    public TimeSpan RenewalLead => _lead;

    /// <summary>The renewal queue, for its test hook (<see cref="CoalescingQueue{TInput}.Parked"/>).</summary>
    internal CoalescingQueue<RenewInput> RenewalQueue => _renewals;

    /// <inheritdoc />
    public Task<StoreResult> RenewAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken) =>
        _renewals.EnqueueAsync(new RenewInput(name, holderId, epoch, activation, ttl), early: false, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> RenewAheadAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken) =>
        _renewals.EnqueueAsync(new RenewInput(name, holderId, epoch, activation, ttl), early: true, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> AdoptAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, CancellationToken cancellationToken) =>
        _adopts.EnqueueAsync(new AdoptInput(name, holderId, key, epoch, activation), early: false, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> AcquireAsync(string name, Guid holderId, string label, LeaseKey key, TimeSpan ttl, string activation, CancellationToken cancellationToken) =>
        _inner.AcquireAsync(name, holderId, label, key, ttl, activation, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> ReleaseAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, ReleaseReason reason, bool byHolder, int maxStalls, CancellationToken cancellationToken) =>
        _inner.ReleaseAsync(name, holderId, key, epoch, activation, reason, byHolder, maxStalls, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> ForceReleaseAsync(string name, long expectedEpoch, string reason, string by, string operatorName, bool skipDelay, string selfActivation, TimeSpan promiseLeft, TimeSpan margin, CancellationToken cancellationToken) =>
        _inner.ForceReleaseAsync(name, expectedEpoch, reason, by, operatorName, skipDelay, selfActivation, promiseLeft, margin, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> AbandonAsync(string name, Guid holderId, LeaseKey key, CancellationToken cancellationToken) =>
        _inner.AbandonAsync(name, holderId, key, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> ResetAsync(string name, string by, string operatorName, CancellationToken cancellationToken) =>
        _inner.ResetAsync(name, by, operatorName, cancellationToken);

    /// <inheritdoc />
    public Task<LockInfo> GetAsync(string name, CancellationToken cancellationToken) => _inner.GetAsync(name, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<LockInfo>> ListAsync(string? afterName, int limit, CancellationToken cancellationToken) =>
        _inner.ListAsync(afterName, limit, cancellationToken);

    /// <inheritdoc />
    public Task<int> PruneAsync(TimeSpan historyRetention, TimeSpan spentRetention, int batchSize, CancellationToken cancellationToken) =>
        _inner.PruneAsync(historyRetention, spentRetention, batchSize, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<LockHistoryEntry>> HistoryAsync(string name, long? beforeId, int limit, CancellationToken cancellationToken) =>
        _inner.HistoryAsync(name, beforeId, limit, cancellationToken);

    /// <inheritdoc />
    public Task<EventPage> EventsAsync(long afterId, int limit, CancellationToken cancellationToken) =>
        _inner.EventsAsync(afterId, limit, cancellationToken);

    /// <inheritdoc />
    public Task<long> LatestHistoryIdAsync(CancellationToken cancellationToken) => _inner.LatestHistoryIdAsync(cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _renewals.DisposeAsync().ConfigureAwait(false);
        await _adopts.DisposeAsync().ConfigureAwait(false);
    }
}
