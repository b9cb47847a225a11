namespace CycleLock.Client;

public sealed partial class CycleLockClient
{
    /// <summary>
    /// Acquires <paramref name="name"/>, waiting up to <paramref name="waitTimeout"/> when it is busy —
    /// without polling the database: the waiter registers with the grain (a registration that lapses
    /// unless renewed every third of its registration, min(ht, 30 s) by default), the grain offers the lock one-way to waiters in
    /// arrival order, and the head waiter acquires with its own send time within its offer window.
    /// Returns a handle, or the last busy answer at the timeout, or dead. A waiter that gives up or is
    /// cancelled leaves the queue; one whose process vanished is dropped when its registration lapses.
    /// </summary>
    public async Task<AcquireResult> AcquireAsync(string name, TimeSpan ttl, TimeSpan waitTimeout, CancellationToken cancellationToken = default)
    {
        var (normalized, lease) = Check(name, ttl);
        if (waitTimeout < TimeSpan.Zero || waitTimeout > RequestRules.MaxTtl)
        {
            throw new ArgumentOutOfRangeException(nameof(waitTimeout), waitTimeout, $"Wait timeout {waitTimeout} is out of range (rule: 0 to {RequestRules.MaxTtl}).");
        }

        cancellationToken.ThrowIfCancellationRequested();
        await CheckFloorAsync(lease, cancellationToken).ConfigureAwait(false);
        var first = await AcquireOnceAsync(normalized, lease, Guid.Empty, cancellationToken).ConfigureAwait(false);
        if (first.Outcome != AcquireOutcome.Busy || waitTimeout == TimeSpan.Zero)
        {
            return first;
        }

        return await WaitForTurnAsync(normalized, lease, _time.GetTimestamp() + (long)(waitTimeout.TotalSeconds * _time.TimestampFrequency), first, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waiter registrations (calls to the grain's Wait) made by this client; for diagnostics.</summary>
    public long WaitRegistrations => Interlocked.Read(ref _waitRegistrations);

    private long _waitRegistrations;

    private async Task<AcquireResult> WaitForTurnAsync(string name, TimeSpan ttl, long deadline, AcquireResult last, CancellationToken cancellationToken)
    {
        var grain = _grains.GetGrain<ICycleLockGrain>(name);
        var waiter = new LockWaiter();
        var reference = _grains.CreateObjectReference<ILockWaiter>(waiter);
        var waiterId = Guid.NewGuid();
        var acquired = false;
        try
        {
            var nextRegistration = _time.GetTimestamp();
            var offered = false;
            while (true)
            {
                var now = _time.GetTimestamp();
                var remaining = Seconds(deadline - now);
                if (remaining <= TimeSpan.Zero)
                {
                    return last;
                }

                if (now >= nextRegistration)
                {
                    var retry = TimeSpan.FromMilliseconds(200);
                    try
                    {
                        Interlocked.Increment(ref _waitRegistrations);
                        using var call = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        call.CancelAfter(Min(_options.AcquireCallTimeout, remaining));
                        var reply = await grain.WaitAsync(new WaitRequest(waiterId, _options.HolderLabel, ttl, reference), call.Token).ConfigureAwait(false);
                        if (reply.Status == WaitStatus.QueueFull)
                        {
                            return last with { Outcome = AcquireOutcome.QueueFull };
                        }

                        offered |= reply.Status == WaitStatus.Offered;
                        retry = reply.RegisteredFor / 3;
                    }
                    catch (Exception e) when (e is not (ArgumentException or CycleLockAccessDeniedException) && !cancellationToken.IsCancellationRequested)
                    {
                        // The cluster is away: register again shortly.
                    }

                    nextRegistration = _time.GetTimestamp() + (long)(retry.TotalSeconds * _time.TimestampFrequency);
                }

                if (!offered)
                {
                    var offer = waiter.NextAsync();
                    using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var wait = Min(Seconds(nextRegistration - _time.GetTimestamp()), Seconds(deadline - _time.GetTimestamp()));
                    var timer = Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _time, delay.Token);
                    await Task.WhenAny(offer, timer).ConfigureAwait(false);
                    await delay.CancelAsync().ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                    if (!offer.IsCompleted)
                    {
                        continue;
                    }

                    waiter.Consume();
                    if ((await offer.ConfigureAwait(false)).Kind == LockOfferKind.Dead)
                    {
                        return new AcquireResult(AcquireOutcome.Dead, null, last.Reply with { Status = AcquireStatus.Dead });
                    }
                }

                offered = false;
                var attempt = await AcquireOnceAsync(name, ttl, waiterId, cancellationToken).ConfigureAwait(false);
                if (attempt.Outcome != AcquireOutcome.Busy)
                {
                    acquired = attempt.Acquired;
                    return attempt;
                }

                // Busy after an offer: the window was missed (the grain dropped this waiter) or the lock was taken
                // meanwhile. Register again at once; a waiter still queued keeps its place, a dropped one queues at the back.
                last = attempt;
                nextRegistration = _time.GetTimestamp();
            }
        }
        finally
        {
            if (!acquired)
            {
                try
                {
                    using var leave = new CancellationTokenSource(_options.AcquireCallTimeout);
                    await grain.LeaveAsync(waiterId, leave.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not (ArgumentException or CycleLockAccessDeniedException))
                {
                    // Best effort: an unrenewed registration lapses on its own.
                }
            }

            _grains.DeleteObjectReference<ILockWaiter>(reference);
        }
    }

    private TimeSpan Seconds(long ticks) => TimeSpan.FromSeconds(ticks / (double)_time.TimestampFrequency);
}
