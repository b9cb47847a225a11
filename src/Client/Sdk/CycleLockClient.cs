using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CycleLock.Client;

/// <summary>
/// The worker SDK entry point (register it with <c>AddCycleLockClient</c>, or create it over an
/// <c>IClusterClient</c>). Acquires lock handles through the Orleans client: a lost acquire reply is
/// retried with the same holder id and key, and an acquire it gives up on is abandoned so a late grant
/// cannot pin the lock. Workers never touch the database. Bad input to any method throws an
/// <see cref="ArgumentException"/> naming the value and the rule, before anything is sent.
/// </summary>
public sealed partial class CycleLockClient
{
    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    private readonly CycleLockClientOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the client over an Orleans grain factory (usually the <c>IClusterClient</c>), with
    /// <paramref name="options"/> (default <see cref="CycleLockClientOptions"/>), <paramref name="time"/>
    /// (default <see cref="TimeProvider.System"/>) and <paramref name="logger"/> (default
    /// <see cref="NullLogger.Instance"/>: nothing is logged; <c>AddCycleLockClient</c> passes the host's).
    /// Invalid options throw <see cref="ArgumentException"/>.</summary>
    public CycleLockClient(IGrainFactory grains, CycleLockClientOptions? options = null, TimeProvider? time = null, ILogger? logger = null)
    {
        _grains = grains ?? throw new ArgumentNullException(nameof(grains));
        _options = options ?? new CycleLockClientOptions();
        CycleLockClientOptionsValidator.ThrowIfInvalid(_options);
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The options in use.</summary>
    public CycleLockClientOptions Options => _options;

    /// <summary>The grain of a lock (the name is validated and NFC-normalised).</summary>
    public ICycleLockGrain Grain(string name) => _grains.GetGrain<ICycleLockGrain>(LockName.Normalize(name));

    /// <summary>The operator plane of lock <paramref name="name"/> (normalised; throws <see cref="ArgumentException"/>
    /// for an invalid name): force-release and reset, refused without an operator credential.</summary>
    public ILockOperatorGrain OperatorGrain(string name) => _grains.GetGrain<ILockOperatorGrain>(LockName.Normalize(name));

    /// <summary>Tries once to acquire <paramref name="name"/> for <paramref name="ttl"/> (default
    /// <see cref="CycleLockClientOptions.DefaultTtl"/>): a handle, or who holds it (busy), or dead. A TTL
    /// below the deployment's floor (<see cref="Limits"/>, read at host start or before the first acquire)
    /// throws <see cref="ArgumentOutOfRangeException"/> naming the floor and what sets it, before the acquire
    /// is sent. Throws
    /// <see cref="TimeoutException"/> when no try got a reply (the acquire was then abandoned) and
    /// <see cref="OperationCanceledException"/> when cancelled (an acquire in flight is abandoned).</summary>
    public Task<AcquireResult> TryAcquireAsync(string name, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        var (normalized, lease) = Check(name, ttl);
        cancellationToken.ThrowIfCancellationRequested();
        return Limits is null
            ? AcquireAfterLimitsAsync(normalized, lease, cancellationToken)
            : AcquireOnceAsync(normalized, lease, Guid.Empty, cancellationToken);
    }

    /// <summary>What is known of a lock (database times).</summary>
    public Task<LockInfo> InspectAsync(string name) => Grain(name).InspectAsync();

    /// <summary>A lock's history, newest first: at most <paramref name="limit"/> (1 to 1 000) entries.</summary>
    public Task<LockHistoryEntry[]> HistoryAsync(string name, int limit = 50, long? beforeId = null)
    {
        var grain = Grain(name);
        if (limit is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"History limit {limit} is out of range (rule: 1 to 1000).");
        }

        return grain.GetHistoryAsync(limit, beforeId);
    }

    /// <summary>An operator ends the lease of <paramref name="epoch"/> (the epoch is required so a stale
    /// command cannot end a newer lease). <paramref name="skipDelay"/> skips the fence that waits out the old
    /// holder's promises; history records it.</summary>
    public Task<ForceReleaseReply> ForceReleaseAsync(string name, long epoch, string reason, string by, bool skipDelay = false)
    {
        var grain = OperatorGrain(name);
        var request = new ForceReleaseRequest(epoch, reason, by, skipDelay);
        RequestRules.ForceRelease(request);
        return grain.ForceReleaseAsync(request);
    }

    /// <summary>An operator returns a dead lock to service. Both operator calls throw
    /// <see cref="CycleLockAccessDeniedException"/> when this client's credential is not an operator's.</summary>
    public Task<ResetReply> ResetAsync(string name, string by)
    {
        var grain = OperatorGrain(name);
        RequestRules.Text(by, RequestRules.MaxLabelLength, "Reset operator", nameof(by));
        return grain.ResetAsync(by);
    }

    /// <summary>Subscribes <paramref name="handler"/> to the deployment's stall releases, losses, expiries
    /// and force-releases (for a scheduler to requeue without burning an attempt), from
    /// <paramref name="afterId"/> (exclusive; -1, the default, means from now; pass a persisted
    /// <see cref="LockEventListener.Cursor"/> to resume). Delivery is at least once, in id order: a handler
    /// that throws is logged and called again with the same event (backoff 200 ms doubling to 10 s) until it
    /// returns, and the cursor never passes an event the handler has not returned from; see
    /// <see cref="LockEventListener"/>.</summary>
    public async Task<LockEventListener> SubscribeAsync(Func<LockEvent, CancellationToken, ValueTask> handler, long afterId = -1, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (afterId < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(afterId), afterId, $"Event cursor {afterId} is not valid (rule: -1 for from now, otherwise 0 or more).");
        }

        var listener = new LockEventListener(_grains, handler, afterId, _time, _logger);
        await listener.StartAsync(cancellationToken).ConfigureAwait(false);
        return listener;
    }

    private (string Name, TimeSpan Ttl) Check(string name, TimeSpan? ttl)
    {
        var normalized = LockName.Normalize(name);
        var lease = ttl ?? _options.DefaultTtl;
        RequestRules.Ttl(lease, TimeSpan.FromTicks(1), nameof(ttl));
        if (Limits is { } limits)
        {
            // The deployment's floor, known since the host started (or an earlier acquire): refused before anything is sent.
            RequestRules.Ttl(lease, limits, nameof(ttl));
        }

        return (normalized, lease);
    }

    // One acquire with a fresh holder id and key, retried with the same id and key when a reply is lost;
    // abandoned when the SDK gives up (or is cancelled) after a try that may have been granted.
    private async Task<AcquireResult> AcquireOnceAsync(string name, TimeSpan ttl, Guid waiterId, CancellationToken cancellationToken)
    {
        var grain = _grains.GetGrain<ICycleLockGrain>(name);
        var request = new AcquireRequest(Guid.NewGuid(), _options.HolderLabel, LeaseKey.New(), ttl, waiterId);
        RequestRules.Acquire(request, TimeSpan.FromTicks(1));
        var validity = new LeaseValidity(_time, TimeSpan.Zero);
        Exception? last = null;
        for (var attempt = 0; attempt < _options.AcquireTries; attempt++)
        {
            if (attempt > 0)
            {
                // Not at once: a refused gateway or a silo that just died answers within milliseconds, and the
                // grain is reachable again only once the client reconnects or membership has moved it.
                try
                {
                    await Task.Delay(RetrySchedule.Backoff(attempt), _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break; // cancelled between tries: an earlier try may have been granted, so abandon below
                }
            }

            var sent = validity.Mark();
            try
            {
                using var call = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                call.CancelAfter(RetrySchedule.TryTimeout(attempt, _options.AcquireCallTimeout));
                var reply = await grain.TryAcquireAsync(request, call.Token).ConfigureAwait(false);
                if (reply.Status != AcquireStatus.Granted)
                {
                    if (last is not null)
                    {
                        // An earlier try may have been granted with its reply lost: do not leave that grant pinned.
                        await AbandonAsync(grain, request).ConfigureAwait(false);
                    }

                    return AcquireResult.From(reply);
                }

                var handle = new LockHandle(grain, name, request.HolderId, request.Key, reply, sent, _time, _options);
                handle.Start();
                return new AcquireResult(AcquireOutcome.Acquired, handle, reply);
            }
            catch (Exception e) when (e is not (ArgumentException or CycleLockAccessDeniedException))
            {
                // The reply may be lost with the grant made: retry with the same holder id and key
                // (idempotent), and abandon below if every try fails.
                last = e;
                if (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
            }
        }

        await AbandonAsync(grain, request).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        throw new TimeoutException($"Acquire of lock {LockName.Quote(name)} got no reply after {_options.AcquireTries} tries; it was abandoned.", last);
    }

    private async Task AbandonAsync(ICycleLockGrain grain, AcquireRequest request)
    {
        try
        {
            using var abandon = new CancellationTokenSource(_options.AcquireCallTimeout);
            // Not cancelled with the wait: Orleans drops a call whose token is cancelled before the grain runs it, and an
            // abandon usually queues behind the very acquire whose reply is late. It must run whenever it gets its turn.
            await grain.AbandonAsync(new AbandonRequest(request.HolderId, request.Key), CancellationToken.None).WaitAsync(abandon.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            // The holder id is never reused; an unabandoned grant ends by stall (no keep-alives come).
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
