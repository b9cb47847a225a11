using CycleLock.Leasing;

namespace CycleLock;

// Waiting acquire (DESIGN §5): waiters register with a lease of their own (re-registered by the SDK),
// never touch the database and never adopt; when this activation frees the lock (or believes it free)
// the head waiter is offered it one-way and takes it with its own acquire. Everything here is
// synchronous, so the always-interleaving Wait and Leave never wait behind a renewal.
public sealed partial class CycleLockGrain
{
    private IGrainTimer? _waitTimer;
    private bool _wasServing;

    // Who held the lock when the database last answered busy (for queued answers while this activation serves no one).
    private string? _busyHolder;
    private long _busyEpoch;

    private WaitingRoom<ILockWaiter> Room => _room ?? throw new InvalidOperationException("The grain is not activated.");

    /// <inheritdoc />
    public Task<WaitReply> WaitAsync(WaitRequest request, CancellationToken cancellationToken = default)
    {
        RequestRules.Wait(request, Core.Floor);
        var now = Core.Now();
        Room.Expire(now);
        var lapse = Min(LeaseTiming.For(request.Ttl, _options).HolderTimeout, _options.MaxWaiterRegistration);
        var position = Room.Register(request.WaiterId, request.Waiter, now, lapse);
        if (position == 0)
        {
            return Task.FromResult(new WaitReply(WaitStatus.QueueFull, 0, TimeSpan.Zero, _options.OfferWindow));
        }

        PumpWaiters();
        var status = Room.OfferedTo == request.WaiterId ? WaitStatus.Offered : WaitStatus.Queued;
        return Task.FromResult(new WaitReply(status, Room.PositionOf(request.WaiterId), lapse, _options.OfferWindow));
    }

    /// <inheritdoc />
    public Task<bool> LeaveAsync(Guid waiterId, CancellationToken cancellationToken = default)
    {
        RequestRules.HolderId(waiterId, nameof(waiterId));
        var removed = Room.Remove(waiterId);
        PumpWaiters();
        return Task.FromResult(removed);
    }

    // First come, first served: while waiters are queued, an acquire that is neither the offered waiter's
    // nor the serving holder's own re-acquire is busy without reaching the database.
    private AcquireReply? GiveWayToWaiters(AcquireRequest request)
    {
        var now = Core.Now();
        Room.Expire(now);
        if (Core.ServesHolder(request.HolderId) || !Room.MustGiveWay(request.WaiterId))
        {
            return null;
        }

        var left = Room.OfferedTo is null ? Room.BusyUntil - now : Room.OfferWindow;
        // Named as the database last named it: a queued caller (and the demo's busy line) sees whom it waits for.
        return new AcquireReply(AcquireStatus.Busy, Core.Epoch ?? _busyEpoch, TimeSpan.Zero, request.Ttl, Core.HolderLabel ?? _busyHolder,
            left > TimeSpan.Zero ? left : TimeSpan.Zero, BusyReason.Queued, 0, 0);
    }

    // After an acquire's turn; reply is null when it failed without an answer.
    private void OnAcquireReply(AcquireRequest request, AcquireReply? reply)
    {
        var now = Core.Now();
        switch (reply)
        {
            case { Status: AcquireStatus.Granted } when request.WaiterId != Guid.Empty:
                Room.Remove(request.WaiterId);
                break;
            case { Status: AcquireStatus.Busy } when reply.BusyReason != BusyReason.Queued:
                // The database (or this activation's lease) says when the lock can next be granted: offer
                // again then, not before (one statement per busy period, no polling).
                Room.Busy(now + reply.TimeLeft);
                (_busyHolder, _busyEpoch) = (reply.HolderLabel, reply.Epoch);
                break;
            case { Status: AcquireStatus.Dead }:
                foreach (var (id, target) in Room.Clear())
                {
                    Notify(target, new LockOffer(Core.Name, id, LockOfferKind.Dead, TimeSpan.Zero));
                }

                break;
        }

        if (request.WaiterId != Guid.Empty)
        {
            // Any other answer (spent holder id, a TTL mismatch...) or none ends the offer as if its window ran out.
            Room.AnswerFailed(request.WaiterId, now);
        }

        PumpWaiters();
    }

    // Offers the lock to the head waiter when this activation serves no lease and the last busy answer
    // has run out, then arms the waiting timer for the next lapse, window end or busy end.
    private void PumpWaiters()
    {
        if (_room is null || _core is null)
        {
            return;
        }

        var now = Core.Now();
        var serving = Core.Phase != LeasePhase.Idle;
        if (_wasServing && !serving)
        {
            // This activation's own lease just ended (release, stall, loss, force-release): free now, up to
            // the fence, which the offered waiter's acquire learns from the database.
            Room.Busy(TimeSpan.Zero);
        }

        _wasServing = serving;
        Room.Expire(now);
        if (Room.TryOffer(now, free: !serving && _acquiresInFlight == 0) is { } offer)
        {
            Notify(offer.Target, new LockOffer(Core.Name, offer.Id, LockOfferKind.Offer, Room.OfferWindow));
        }

        // Every registration lapses, so a non-empty room always has a next due instant.
        if (Room.NextDue(now) is not { } due)
        {
            _waitTimer?.Dispose();
            _waitTimer = null;
            return;
        }

        var wait = Max(due - now, TimeSpan.FromMilliseconds(1));
        if (_waitTimer is null)
        {
            // KeepAlive while waiters are registered; interleaving, because the pump never awaits.
            _waitTimer = this.RegisterGrainTimer(
                static (grain, _) =>
                {
                    grain.PumpWaiters();
                    return Task.CompletedTask;
                },
                this,
                new GrainTimerCreationOptions(wait, Timeout.InfiniteTimeSpan) { Interleave = true, KeepAlive = true });
        }
        else
        {
            _waitTimer.Change(wait, Timeout.InfiniteTimeSpan);
        }
    }

    // One-way and never awaited: a lost notification only costs the waiter its window.
    private void Notify(ILockWaiter target, LockOffer offer)
    {
        try
        {
            _ = target.OfferAsync(offer).ContinueWith(
                static t => _ = t.Exception,
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Current);
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            Log.NotifyFailed(_logger, Core.Name, offer.WaiterId, e);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
