using CycleLock.Persistence;

namespace CycleLock.Leasing;

public sealed partial class LeaseCore
{
    /// <summary>
    /// The holder's release (serialized). A release reaching an activation that does not serve the
    /// lease adopts it first (only the holder's calls adopt). Keep-alives arriving while it is in
    /// flight are answered "released", never with a fresh promise.
    /// </summary>
    public async Task<ReleaseReply> ReleaseAsync(ReleaseRequest request, CancellationToken cancellationToken)
    {
        RequestRules.Release(request);
        await SettlePendingForceAsync(cancellationToken);
        for (var round = 0; round < 2; round++)
        {
            if (Serves(request.HolderId, request.Epoch))
            {
                var lease = _lease!;
                if (!lease.KeyMatches(request.Key))
                {
                    return new ReleaseReply(ReleaseStatus.Lost, null, lease.Epoch);
                }

                switch (_phase)
                {
                    case LeasePhase.Held:
                        var outcome = await ReleaseServedAsync(lease, request, cancellationToken);
                        if (outcome is not null)
                        {
                            return outcome;
                        }

                        break; // moved: adopt below, then release again
                    case LeasePhase.Ending when _endingKind == EndingKind.Force:
                        return new ReleaseReply(ReleaseStatus.Lost, "force-released", lease.Epoch);
                    case LeasePhase.Ending:
                        return new ReleaseReply(ReleaseStatus.AlreadyReleased, _endingReason, lease.Epoch);
                    case LeasePhase.Lost:
                        return new ReleaseReply(ReleaseStatus.Lost, null, lease.Epoch);
                }
            }
            else if (EndedFor(request.HolderId, request.Epoch) is { } ended)
            {
                return ended.Status == KeepAliveStatus.Released
                    ? new ReleaseReply(ReleaseStatus.AlreadyReleased, ended.Reason, ended.Epoch)
                    : new ReleaseReply(ReleaseStatus.Lost, null, ended.Epoch);
            }

            var sent = Now();
            var adopted = await _store.AdoptAsync(_name, request.HolderId, request.Key, request.Epoch, _activation, cancellationToken);
            switch (adopted.Outcome)
            {
                case StoreOutcome.Adopted:
                    Serve(new ServedLease(request.HolderId, request.Key, adopted.Epoch, adopted.HolderLabel, TimingOf(adopted)), sent, adopted);
                    continue;
                case StoreOutcome.Ended when adopted.Reason is { } reason:
                    return StatusOfEnd(reason) == KeepAliveStatus.Released
                        ? new ReleaseReply(ReleaseStatus.AlreadyReleased, reason, request.Epoch)
                        : new ReleaseReply(ReleaseStatus.Lost, reason, adopted.Epoch);
                default:
                    return new ReleaseReply(ReleaseStatus.Lost, null, adopted.Epoch);
            }
        }

        throw new InvalidOperationException($"Release of lock {LockName.Quote(_name)} epoch {request.Epoch} kept moving between activations.");
    }

    // Null when the store says another activation serves the lease (the caller adopts and retries).
    private async Task<ReleaseReply?> ReleaseServedAsync(ServedLease lease, ReleaseRequest request, CancellationToken cancellationToken)
    {
        var reason = request.Reason.ToText();
        BeginEnding(EndingKind.HolderRelease, reason);
        StoreResult result;
        try
        {
            result = await _store.ReleaseAsync(_name, lease.HolderId, request.Key, lease.Epoch, _activation, request.Reason, byHolder: true, _options.MaxStalls, cancellationToken);
        }
        catch
        {
            // Outcome in doubt. Promises of this epoch are made only to this holder, and the holder
            // stops acting when it releases, so serving on is safe; the SDK retries the release.
            if (_phase == LeasePhase.Ending && Serves(lease.HolderId, lease.Epoch))
            {
                _phase = LeasePhase.Held;
            }

            throw;
        }

        switch (result.Outcome)
        {
            case StoreOutcome.Released:
                End(KeepAliveStatus.Released, reason);
                Log.Released(_logger, _name, lease.Epoch, reason);
                return new ReleaseReply(ReleaseStatus.Released, reason, lease.Epoch);
            case StoreOutcome.AlreadyReleased:
                End(StatusOfEnd(result.Reason), result.Reason ?? reason);
                return new ReleaseReply(ReleaseStatus.AlreadyReleased, result.Reason, lease.Epoch);
            case StoreOutcome.Moved:
                _phase = LeasePhase.Moved;
                return null;
            case StoreOutcome.Ended when result.Reason is { } ended:
                End(StatusOfEnd(ended), ended);
                return StatusOfEnd(ended) == KeepAliveStatus.Released
                    ? new ReleaseReply(ReleaseStatus.AlreadyReleased, ended, lease.Epoch)
                    : new ReleaseReply(ReleaseStatus.Lost, ended, result.Epoch);
            default:
                End(KeepAliveStatus.Lost, "lease is not held by this holder");
                return new ReleaseReply(ReleaseStatus.Lost, null, result.Epoch);
        }
    }

    /// <summary>
    /// An operator's force-release (serialized). Never adopts. When this activation serves the epoch, it
    /// stops promising before the statement is sent and the fence covers its promises (promise left + m);
    /// otherwise the store fences until the old <c>expires_at</c>. If the outcome is in doubt, this
    /// activation never promises for that epoch again and retries the force-release on its timer.
    /// </summary>
    public async Task<ForceReleaseReply> ForceReleaseAsync(ForceReleaseRequest request, string operatorName, CancellationToken cancellationToken)
    {
        RequestRules.ForceRelease(request);
        ArgumentException.ThrowIfNullOrEmpty(operatorName);
        if (request.SkipDelay && !_options.AllowSkipDelay)
        {
            throw new ArgumentException($"Force-release of lock {LockName.Quote(_name)} with SkipDelay = true is refused: this silo does not allow it (rule: CycleLock:Locks:AllowSkipDelay = true enables it; without it the force-release waits out the old holder's promise).", nameof(request));
        }

        var command = new ForceCommand(request, operatorName);
        var serving = _lease is { } lease && lease.Epoch == request.ExpectedEpoch && _phase is LeasePhase.Held or LeasePhase.Ending or LeasePhase.Lost;
        var before = (_phase, _endingKind, _endingReason, _pendingForce);
        if (serving)
        {
            BeginEnding(EndingKind.Force, "force-released");
            _pendingForce = command;
        }

        var result = await SendForceReleaseAsync(command, cancellationToken);
        if (result.Outcome == StoreOutcome.ForceBusy && serving && ReferenceEquals(_pendingForce, command))
        {
            // The lock timeout aborted the statement: nothing changed, so the activation is as it was
            // (including an earlier force-release still in doubt, which its timer keeps retrying).
            (_phase, _endingKind, _endingReason, _pendingForce) = before;
        }

        return ToForceReply(result);
    }

    // Ends the served lease only when the statement was about the served epoch and gave a definite answer.
    private async Task<StoreResult> SendForceReleaseAsync(ForceCommand command, CancellationToken cancellationToken)
    {
        var request = command.Request;
        var ownEpoch = _lease?.Epoch == request.ExpectedEpoch;
        var promiseLeft = ownEpoch ? Max(_promisedUntil - Now(), TimeSpan.Zero) : TimeSpan.Zero;
        var margin = _lease?.Timing.Margin ?? _options.MarginBase;
        StoreResult result;
        try
        {
            result = await _store.ForceReleaseAsync(_name, request.ExpectedEpoch, request.Reason, request.By, command.Operator, request.SkipDelay, _activation, promiseLeft, margin, cancellationToken);
        }
        catch
        {
            if (_pendingForce is not null)
            {
                _timerRequest = new TimerRequest(Backoff(), false);
            }

            throw;
        }

        if (ownEpoch && _pendingForce is not null && _pendingForce.Request.ExpectedEpoch == request.ExpectedEpoch && result.Outcome != StoreOutcome.ForceBusy)
        {
            End(KeepAliveStatus.Lost, "force-released");
            Log.ForceReleased(_logger, _name, request.ExpectedEpoch, request.By);
        }

        return result;
    }

    // A force-release whose outcome is in doubt must be settled before this activation serves anything:
    // the statement may still commit with a fence that does not cover a promise made meanwhile.
    private async Task SettlePendingForceAsync(CancellationToken cancellationToken)
    {
        if (_pendingForce is { } pending)
        {
            var result = await SendForceReleaseAsync(pending, cancellationToken);
            if (result.Outcome == StoreOutcome.ForceBusy)
            {
                _timerRequest = new TimerRequest(Backoff(), false);
                throw new TimeoutException($"Lock {LockName.Quote(_name)}: a force-release of epoch {pending.Request.ExpectedEpoch} is still unsettled (a fenced write holds the row); retry.");
            }
        }
    }

    private static ForceReleaseReply ToForceReply(StoreResult result) => result.Outcome switch
    {
        StoreOutcome.ForceReleased => new ForceReleaseReply(ForceReleaseStatus.Released, result.Epoch, result.FenceUntil),
        StoreOutcome.AlreadyReleased => new ForceReleaseReply(ForceReleaseStatus.AlreadyReleased, result.Epoch, result.FenceUntil),
        StoreOutcome.WrongEpoch => new ForceReleaseReply(ForceReleaseStatus.WrongEpoch, result.Epoch, null),
        StoreOutcome.NotHeld => new ForceReleaseReply(ForceReleaseStatus.NotHeld, result.Epoch, null),
        StoreOutcome.ForceBusy => new ForceReleaseReply(ForceReleaseStatus.Busy, result.Epoch, null),
        _ => throw new InvalidOperationException($"Unexpected force-release outcome {result.Outcome}."),
    };

    /// <summary>The SDK gave up on an acquire (serialized): the id is spent and any grant to it released.</summary>
    public async Task<AbandonReply> AbandonAsync(AbandonRequest request, CancellationToken cancellationToken)
    {
        RequestRules.Abandon(request);
        var result = await _store.AbandonAsync(_name, request.HolderId, request.Key, cancellationToken);
        if (_lease is { } lease && lease.HolderId == request.HolderId && lease.KeyMatches(request.Key))
        {
            End(KeepAliveStatus.Released, ReleaseReason.Abandoned.ToText());
        }

        return new AbandonReply(result.Outcome == StoreOutcome.Abandoned);
    }

    /// <summary>Returns a dead lock to service.</summary>
    public async Task<ResetReply> ResetAsync(string by, string operatorName, CancellationToken cancellationToken)
    {
        RequestRules.Text(by, RequestRules.MaxLabelLength, "Reset operator", nameof(by));
        ArgumentException.ThrowIfNullOrEmpty(operatorName);
        var result = await _store.ResetAsync(_name, by, operatorName, cancellationToken);
        return new ResetReply(result.Outcome == StoreOutcome.Reset);
    }
}
