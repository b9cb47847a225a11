using CycleLock.Persistence;
using CycleLock.Resilience;

namespace CycleLock.Leasing;

public sealed partial class LeaseCore
{
    /// <summary>
    /// One renewal-timer turn (serialized): stall check, then one bounded store call — a renewal, the
    /// stall release, the <c>lease-lost</c> release or a retried force-release. A failed call is retried
    /// on a later turn after a backoff, never inside this one, so a serialized call waits at most one
    /// attempt timeout behind it. Afterwards <see cref="TakeTimerRequest"/> says when to run next.
    /// </summary>
    public async Task OnTimerAsync(CancellationToken cancellationToken)
    {
        var lease = _lease;
        if (lease is null || _phase is LeasePhase.Idle or LeasePhase.Moved)
        {
            _timerRequest = new TimerRequest(null, _phase == LeasePhase.Moved);
            return;
        }

        var now = Now();
        if (_phase == LeasePhase.Held && now >= _deadline)
        {
            DeclareLoss("deadline passed without a successful renewal");
        }

        if (_phase == LeasePhase.Held && now >= Max(_promisedUntil, _lastHeard + lease.Timing.HolderTimeout))
        {
            // Nothing promised is outstanding and the holder has been silent for ht: a stall.
            BeginEnding(EndingKind.Stall, ReleaseReason.Stalled.ToText());
            _metrics.Stall();
            Log.Stalled(_logger, _name, lease.Epoch, now - _lastHeard);
        }

        var budget = Min(lease.Timing.AttemptTimeout, _phase == LeasePhase.Held ? _deadline - now : lease.Timing.AttemptTimeout);
        using var timeout = new CancellationTokenSource(budget > TimeSpan.Zero ? budget : TimeSpan.FromMilliseconds(1), _time);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            switch (_phase)
            {
                case LeasePhase.Held:
                    await RenewAsync(lease, attempt.Token);
                    break;
                case LeasePhase.Ending when _endingKind == EndingKind.Force && _pendingForce is { } force:
                    if ((await SendForceReleaseAsync(force, attempt.Token)).Outcome == StoreOutcome.ForceBusy)
                    {
                        _timerRequest = new TimerRequest(Backoff(), false);
                    }

                    break;
                case LeasePhase.Ending when _endingKind == EndingKind.Stall:
                    await ReleaseByGrainAsync(lease, ReleaseReason.Stalled, attempt.Token);
                    break;
                case LeasePhase.Ending:
                    // A holder release that failed restores Held before its turn ends; nothing to do here.
                    _timerRequest = new TimerRequest(NextRenewal(lease.Timing), false);
                    break;
                case LeasePhase.Lost:
                    await ReleaseByGrainAsync(lease, ReleaseReason.LeaseLost, attempt.Token);
                    break;
            }
        }
        catch (Exception e) when (e is ArgumentException or LeaseStoreConfigurationException)
        {
            // A bug or a permanent configuration error: surface it, but keep the timer alive so renewals
            // (and a lease-lost release) resume once it is fixed.
            _timerRequest = new TimerRequest(NextRenewal(lease.Timing), false);
            throw;
        }
        catch (DatabaseOverloadedException) when (_phase is LeasePhase.Ending or LeasePhase.Lost)
        {
            // The silo's background lane is full (a fleet died at once and its stall releases fell due together):
            // nothing was sent. Put the release off to a later turn, spread with jitter; not a failure, not logged.
            _metrics.Deferred();
            _timerRequest = new TimerRequest(DeferralDelay(), false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            _failures++;
            _renewFailingSince ??= _time.GetUtcNow();
            if (_failureLoggedFor != _phase)
            {
                // Once per phase (renewing, ending, lost) with the exception; every further failure is counted by the
                // pipeline and written at Debug only: thousands of failing leases must not flood the log.
                _failureLoggedFor = _phase;
                Log.RenewFailed(_logger, _name, lease.Epoch, _phase, _failures, e);
            }
            else
            {
                Log.RenewFailedAgain(_logger, _name, lease.Epoch, _phase, _failures, e.GetType().Name);
            }

            if (_phase == LeasePhase.Held && Now() >= _deadline)
            {
                DeclareLoss("deadline passed without a successful renewal");
            }

            var next = Backoff();
            if (_phase == LeasePhase.Held)
            {
                next = Min(next, Max(_deadline - Now(), TimeSpan.Zero));
            }

            _timerRequest = new TimerRequest(next, false);
        }
    }

    private async Task RenewAsync(ServedLease lease, CancellationToken cancellationToken)
    {
        var sent = Now();
        var started = CycleLockMetrics.Now();
        // A scheduled renewal (the last one succeeded) was handed in early and may wait for its flush; a
        // retry goes out at once.
        var result = _failures == 0
            ? await _store.RenewAheadAsync(_name, lease.HolderId, lease.Epoch, _activation, lease.Timing.Ttl, cancellationToken)
            : await _store.RenewAsync(_name, lease.HolderId, lease.Epoch, _activation, lease.Timing.Ttl, cancellationToken);
        _metrics.Renewed(result.Outcome.ToString(), CycleLockMetrics.Since(started), result.Outcome == StoreOutcome.Renewed ? result.Remaining : null);
        if (!Serves(lease.HolderId, lease.Epoch))
        {
            return; // ended while the statement was in flight (cannot happen under serialization; defensive)
        }

        switch (result.Outcome)
        {
            case StoreOutcome.Renewed:
                if (_phase != LeasePhase.Held)
                {
                    // A keep-alive declared loss while this renewal was in flight (its deadline passed):
                    // loss is final for the epoch; the timer now releases as lease-lost.
                    _timerRequest = new TimerRequest(TimeSpan.Zero, false);
                    return;
                }

                CheckClock(sent, Now(), result, lease.Timing);
                _deadline = sent + result.Remaining - lease.Timing.Margin;
                _renewFailingSince = null;
                _failures = 0;
                _failureLoggedFor = null;
                _timerRequest = new TimerRequest(NextRenewal(lease.Timing), false);
                Log.Renewed(_logger, _name, lease.Epoch, result.Remaining);
                break;
            case StoreOutcome.Moved:
                BeginMoved(lease);
                Log.Moved(_logger, _name, lease.Epoch, result.Activation);
                break;
            case StoreOutcome.Ended:
                End(StatusOfEnd(result.Reason), result.Reason ?? "ended");
                break;
            default:
                Log.Lost(_logger, _name, lease.Epoch, "renewal found the lease re-granted, force-released or gone");
                _metrics.Lost("re-granted");
                End(KeepAliveStatus.Lost, "lease re-granted, force-released or gone");
                break;
        }
    }

    private async Task ReleaseByGrainAsync(ServedLease lease, ReleaseReason reason, CancellationToken cancellationToken)
    {
        // -1: released as stalled, not counted (a grant never kept alive; migration 0009).
        var maxStalls = reason == ReleaseReason.Stalled && !_keptAlive ? -1 : _options.MaxStalls;
        var result = await _store.ReleaseAsync(_name, lease.HolderId, lease.Key, lease.Epoch, _activation, reason, byHolder: false, maxStalls, cancellationToken);
        var status = reason == ReleaseReason.Stalled ? KeepAliveStatus.Released : KeepAliveStatus.Lost;
        switch (result.Outcome)
        {
            case StoreOutcome.Released:
                End(status, reason.ToText());
                break;
            case StoreOutcome.AlreadyReleased or StoreOutcome.Ended:
                End(StatusOfEnd(result.Reason), result.Reason ?? reason.ToText());
                break;
            case StoreOutcome.Moved:
                // Another activation adopted the lease: it is not lost, it is served elsewhere.
                BeginMoved(lease);
                break;
            default:
                End(KeepAliveStatus.Lost, "lease re-granted, force-released or gone");
                break;
        }
    }

    // Answer "moved" for a short grace (so holders learn to retry rather than find a fresh activation
    // mid-deactivation), then deactivate; the holder's retry lands on an activation that adopts.
    private void BeginMoved(ServedLease lease)
    {
        _metrics.MovedAnswer();
        _phase = LeasePhase.Moved;
        _timerRequest = new TimerRequest(Min(TimeSpan.FromMilliseconds(250), lease.Timing.RenewPeriod / 4), false);
    }

    // db_clock_jump: the database's now() of a statement lies between its send and its answer on the monotonic
    // clock, so between two statements the database clock may advance anywhere from (sent − previous answer) to
    // (answer − previous send). Only a move outside that interval by more than m/2 is a jump: a statement delayed
    // in a pooler queue, behind a lock or in the coalescer's lead is latency, not a clock step.
    private void CheckClock(TimeSpan sent, TimeSpan received, StoreResult result, LeaseTiming timing)
    {
        if (_lastRenewClock is { } previous)
        {
            var elapsed = result.DbNow - previous.Db;
            var shortest = sent - previous.Received;
            var longest = received - previous.Sent;
            var drift = elapsed < shortest ? elapsed - shortest : elapsed > longest ? elapsed - longest : TimeSpan.Zero;
            if (drift.Duration() > timing.Margin / 2)
            {
                // The deadline below is taken from this statement's remaining time alone, which caps
                // every new promise to what the database now allows.
                ClockJumps++;
                _metrics.ClockJump();
                Log.ClockJump(_logger, _name, drift);
            }
        }

        _lastRenewClock = (sent, received, result.DbNow);
    }

    // The next regular renewal: P after this one, handed in early by the store's coalescing lead (at most
    // P/4), so the coalescer sends it by its P.
    private TimeSpan NextRenewal(LeaseTiming timing) => timing.RenewPeriod - Min(_store.RenewalLead, timing.RenewPeriod / 4);

    // A put-off background release tries again in 0.5–1.5 s: spread, so the queue drains without a thundering herd.
    private static TimeSpan DeferralDelay() => TimeSpan.FromMilliseconds(500 + Random.Shared.Next(1000));

    private TimeSpan Backoff()
    {
        var cap = _lease?.Timing.MaxBackoff ?? _options.MaxBackoff;
        var exponential = TimeSpan.FromMilliseconds(50 * Math.Pow(2, Math.Min(_failures, 10)));
        var ceiling = Min(exponential, cap);
        return ceiling / 2 + (ceiling / 2 * Random.Shared.NextDouble());
    }
}
