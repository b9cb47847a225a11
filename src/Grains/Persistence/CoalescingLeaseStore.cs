using CycleLock.Leasing;
using Microsoft.Extensions.Logging;

namespace CycleLock.Persistence;

/// <summary>
/// The silo's lease store with renewals and adoptions coalesced (DESIGN §11): each goes through a
/// <see cref="CoalescingQueue{TInput}"/> that writes everything pending in one statement per flush, so the
/// statements per renew period do not grow with the number of leases. Renewals are handed in
/// <see cref="CycleLockOptions.CoalescingWindow"/> before they are due and flushed when the most urgent one
/// falls due; adoptions (a holder is waiting) flush at once. With <see cref="CycleLockOptions.CoalesceChanges"/>,
/// acquires, releases and abandons go through a third queue that flushes at once too (no window: a flush starts
/// when a slot is free, and what arrives while <see cref="CycleLockOptions.ChangeFlushesInFlight"/> flushes are in
/// flight goes in the next), so ownership changes share one durable commit; an input the batch skipped (its row was
/// locked, e.g. by an epoch guard) goes down the single-row path with its caller's token. Force-release, reset and
/// reads go straight to the inner store.
/// </summary>
public sealed class CoalescingLeaseStore : ILeaseStore, IAsyncDisposable
{
    private readonly ILeaseStore _inner;
    private readonly CoalescingQueue<RenewInput>? _renewals;
    private readonly CoalescingQueue<AdoptInput>? _adopts;
    private readonly CoalescingQueue<ChangeInput>? _changes;
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
        _lead = options.CoalesceRenewals ? options.CoalescingWindow : TimeSpan.Zero;
        if (options.CoalesceRenewals)
        {
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

        if (options.CoalesceChanges)
        {
            _changes = new CoalescingQueue<ChangeInput>(
                "change",
                static i => i.Name,
                batches.ChangeManyAsync,
                _ => options.MaxAttemptTimeout,
                (i, token) => Single(i, token),
                TimeSpan.Zero,
                options.MaxChangeBatchSize,
                time,
                logger,
                metrics,
                options.ChangeFlushesInFlight);
        }
    }

    /// <inheritdoc />
    public TimeSpan RenewalLead => _lead;

    /// <summary>The renewal queue, for its test hook (<see cref="CoalescingQueue{TInput}.Parked"/>).</summary>
    internal CoalescingQueue<RenewInput> RenewalQueue => _renewals ?? throw new InvalidOperationException("Renewals are not coalesced.");

    /// <inheritdoc />
    public Task<StoreResult> RenewAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken) =>
        _renewals?.EnqueueAsync(new RenewInput(name, holderId, epoch, activation, ttl), early: false, cancellationToken)
        ?? _inner.RenewAsync(name, holderId, epoch, activation, ttl, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> RenewAheadAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken) =>
        _renewals?.EnqueueAsync(new RenewInput(name, holderId, epoch, activation, ttl), early: true, cancellationToken)
        ?? _inner.RenewAsync(name, holderId, epoch, activation, ttl, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> AdoptAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, CancellationToken cancellationToken) =>
        _adopts?.EnqueueAsync(new AdoptInput(name, holderId, key, epoch, activation), early: false, cancellationToken)
        ?? _inner.AdoptAsync(name, holderId, key, epoch, activation, cancellationToken);

    /// <summary>The change queue (null when changes are not coalesced), for its tests.</summary>
    internal CoalescingQueue<ChangeInput>? ChangeQueue => _changes;

    /// <inheritdoc />
    public Task<StoreResult> AcquireAsync(string name, Guid holderId, string label, LeaseKey key, TimeSpan ttl, string activation, CancellationToken cancellationToken) =>
        ChangeAsync(ChangeInput.Acquire(name, holderId, label, key, ttl, activation), cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> ReleaseAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, ReleaseReason reason, bool byHolder, int maxStalls, CancellationToken cancellationToken) =>
        ChangeAsync(ChangeInput.Release(name, holderId, key, epoch, activation, reason, byHolder, maxStalls), cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> ForceReleaseAsync(string name, long expectedEpoch, string reason, string by, string operatorName, bool skipDelay, string selfActivation, TimeSpan promiseLeft, TimeSpan margin, CancellationToken cancellationToken) =>
        _inner.ForceReleaseAsync(name, expectedEpoch, reason, by, operatorName, skipDelay, selfActivation, promiseLeft, margin, cancellationToken);

    /// <inheritdoc />
    public Task<StoreResult> AbandonAsync(string name, Guid holderId, LeaseKey key, CancellationToken cancellationToken) =>
        ChangeAsync(ChangeInput.Abandon(name, holderId, key), cancellationToken);

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

    private async Task<StoreResult> ChangeAsync(ChangeInput input, CancellationToken cancellationToken)
    {
        if (_changes is null)
        {
            return await Single(input, cancellationToken).ConfigureAwait(false);
        }

        StoreResult result;
        try
        {
            result = await _changes.EnqueueAsync(input, early: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Resilience.DatabaseOverloadedException) when (input.Kind == ChangeKind.Acquire)
        {
            // As the single-row acquire answers it: nothing was sent; busy, retry after a moment.
            return PostgresLeaseStore.Overloaded();
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == "55P03")
        {
            // The batch's insert of a new row waited past the grant lock timeout for another transaction inserting the
            // same name, and changed nothing: every caller of that batch goes down its single-row path at once (in
            // parallel, not one after another behind the queue), which answers busy on its own lock timeout.
            return await Single(input, cancellationToken).ConfigureAwait(false);
        }

        // Its row was locked by another transaction (an epoch guard, a force-release): the single-row path waits for
        // it under the grant lock timeout and answers what it always has.
        return result.Outcome == StoreOutcome.Skipped ? await Single(input, cancellationToken).ConfigureAwait(false) : result;
    }

    private Task<StoreResult> Single(ChangeInput i, CancellationToken cancellationToken) => i.Kind switch
    {
        ChangeKind.Acquire => _inner.AcquireAsync(i.Name, i.HolderId, i.Label!, i.Key, i.Ttl, i.Activation!, cancellationToken),
        ChangeKind.Release => _inner.ReleaseAsync(i.Name, i.HolderId, i.Key, i.Epoch, i.Activation!, i.Reason, i.ByHolder, i.MaxStalls, cancellationToken),
        _ => _inner.AbandonAsync(i.Name, i.HolderId, i.Key, cancellationToken),
    };

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_changes is not null)
        {
            await _changes.DisposeAsync().ConfigureAwait(false);
        }

        if (_renewals is not null)
        {
            await _renewals.DisposeAsync().ConfigureAwait(false);
        }

        if (_adopts is not null)
        {
            await _adopts.DisposeAsync().ConfigureAwait(false);
        }
    }
}
