using CycleLock.Persistence;

namespace CycleLock.Leasing;

public sealed partial class LeaseCore
{
    /// <summary>
    /// Acquire (serialized). Answered from memory when this activation serves the lock (the same
    /// holder again gets its lease back; another holder gets Busy); otherwise one store acquire.
    /// </summary>
    public async Task<AcquireReply> AcquireAsync(AcquireRequest request, CancellationToken cancellationToken)
    {
        RequestRules.Acquire(request, _floor, _options.MaxTtl);
        await SettlePendingForceAsync(cancellationToken);
        var now = Now();
        if (_phase == LeasePhase.Held && _lease is { } served && now < _deadline)
        {
            if (served.HolderId == request.HolderId && served.KeyMatches(request.Key))
            {
                ThrowIfTtlDiffers(request.Ttl, served.Timing.Ttl);
                _lastHeard = now;
                var held = HeldReply(now);
                return Granted(served, held.ValidFor, 0, 0);
            }

            if (served.HolderId != request.HolderId)
            {
                return new AcquireReply(AcquireStatus.Busy, served.Epoch, TimeSpan.Zero, served.Timing.Ttl, served.Label,
                    _deadline + served.Timing.Margin - now, BusyReason.Held, 0, 0);
            }
        }

        if (_held.Refusal(request.HolderLabel, _options) is { } limit)
        {
            // A bound one caller cannot exceed: answered busy before the database is asked (nothing was tried).
            _metrics.Acquired("limit", TimeSpan.Zero);
            Log.AcquireLimited(_logger, _name, limit);
            return new AcquireReply(AcquireStatus.Busy, _lease?.Epoch ?? 0, TimeSpan.Zero, request.Ttl, null, TimeSpan.FromSeconds(1), BusyReason.Limit, 0, 0);
        }

        var sent = Now();
        var started = CycleLockMetrics.Now();
        var result = await _store.AcquireAsync(_name, request.HolderId, request.HolderLabel, request.Key, request.Ttl, _activation, cancellationToken);
        _metrics.Acquired(result.Outcome switch
        {
            StoreOutcome.Granted => "granted",
            StoreOutcome.Reacquired => "reacquired",
            StoreOutcome.Dead => "dead",
            StoreOutcome.Spent => "spent",
            StoreOutcome.TtlMismatch => "ttl-mismatch",
            StoreOutcome.BusyOverloaded => "overloaded",
            _ => "busy",
        }, CycleLockMetrics.Since(started));
        switch (result.Outcome)
        {
            case StoreOutcome.Granted:
            case StoreOutcome.Reacquired:
                var lease = new ServedLease(request.HolderId, request.Key, result.Epoch, request.HolderLabel, LeaseTiming.For(request.Ttl, _options));
                Serve(lease, sent, result);
                Log.Granted(_logger, _name, result.Epoch, request.HolderLabel, result.Outcome == StoreOutcome.Reacquired);
                var reply = HeldReply(Now());
                return reply.Status == KeepAliveStatus.Held
                    ? Granted(lease, reply.ValidFor, result.Attempts, result.Stalls)
                    : throw new TimeoutException($"Acquire of lock {LockName.Quote(_name)} took longer than its lease; the grant has no time left.");
            case StoreOutcome.TtlMismatch:
                ThrowIfTtlDiffers(request.Ttl, result.Ttl ?? TimeSpan.Zero);
                goto default;
            case StoreOutcome.BusyHeld:
                return Busy(result, BusyReason.Held);
            case StoreOutcome.BusyFenced:
                return Busy(result, BusyReason.Fenced);
            case StoreOutcome.BusyGuard:
                return Busy(result, BusyReason.FencedWriteInFlight);
            case StoreOutcome.BusyOverloaded:
                return Busy(result, BusyReason.Overloaded);
            case StoreOutcome.Dead:
                return new AcquireReply(AcquireStatus.Dead, result.Epoch, TimeSpan.Zero, TimeSpan.Zero, result.HolderLabel, TimeSpan.Zero, BusyReason.None, result.Attempts, result.Stalls);
            case StoreOutcome.Spent:
                return new AcquireReply(AcquireStatus.HolderSpent, result.Epoch, TimeSpan.Zero, TimeSpan.Zero, null, TimeSpan.Zero, BusyReason.None, result.Attempts, result.Stalls);
            default:
                throw new InvalidOperationException($"Unexpected acquire outcome {result.Outcome} for lock {LockName.Quote(_name)}.");
        }
    }

    private static void ThrowIfTtlDiffers(TimeSpan requested, TimeSpan held)
    {
        if (requested != held)
        {
            throw new ArgumentException($"TTL {requested} differs from the TTL {held} of the lease this holder already holds (rule: a re-acquire repeats the TTL).", "Ttl");
        }
    }

    private static AcquireReply Granted(ServedLease lease, TimeSpan validFor, int attempts, int stalls) =>
        new(AcquireStatus.Granted, lease.Epoch, validFor, lease.Timing.Ttl, lease.Label, TimeSpan.Zero, BusyReason.None, attempts, stalls,
            lease.Timing.HolderTimeout, lease.Timing.SdkMargin);

    private static AcquireReply Busy(StoreResult result, BusyReason reason) =>
        new(AcquireStatus.Busy, result.Epoch, TimeSpan.Zero, result.Ttl ?? TimeSpan.Zero, result.HolderLabel, result.Remaining, reason, result.Attempts, result.Stalls);
}
