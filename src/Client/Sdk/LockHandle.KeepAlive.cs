namespace CycleLock.Client;

// Keeping alive: the loop that sends keep-alives and the rules for applying their answers (DESIGN §5).
public sealed partial class LockHandle
{
    /// <summary>
    /// Applies a keep-alive reply to a request sent at <paramref name="sent"/>. Only a "held" reply for this
    /// handle's own epoch, while the handle is not terminal, extends <see cref="ValidUntil"/>; a reply naming
    /// another epoch is a loss; anything arriving after the handle ended changes nothing.
    /// </summary>
    internal void ApplyReply(KeepAliveReply reply, (long Timestamp, DateTimeOffset Wall) sent)
    {
        CheckClock();
        lock (_gate)
        {
            if (_state is LockHandleState.Lost or LockHandleState.Released || _release is not null)
            {
                return; // late: the handle has ended or is releasing; nothing revives or extends it
            }
        }

        if (reply.Epoch != Epoch)
        {
            MarkEnded(LockHandleState.Lost, $"reply names epoch {reply.Epoch}, not {Epoch}", definite: true);
            return;
        }

        switch (reply.Status)
        {
            case KeepAliveStatus.Held:
                _moved = 0;
                lock (_gate)
                {
                    if (_state is LockHandleState.Lost or LockHandleState.Released)
                    {
                        return;
                    }

                    _validity.OnHeld(sent, reply.ValidFor);
                    if (sent.Timestamp > _lastHeldSend)
                    {
                        Interlocked.Exchange(ref _lastHeldSend, sent.Timestamp);
                    }
                }

                _lastValidFor = reply.ValidFor;
                ArmExpiry();
                SetState(reply.RenewFailingSince is null ? LockHandleState.Held : LockHandleState.InJeopardy);
                break;
            case KeepAliveStatus.Moved:
                // Served by another activation: not lost. Retry shortly with jitter, a bounded number of times.
                _moved++;
                if (_moved > _options.MaxMovedRetries)
                {
                    SetState(LockHandleState.InJeopardy);
                    _lastValidFor = _holderTimeout / 3 * 2;
                }
                else
                {
                    _lastValidFor = TimeSpan.FromMilliseconds(40 + Random.Shared.Next(200));
                }

                break;
            case KeepAliveStatus.Uncertain:
                // The activation cannot vouch for the lease now: jeopardy, no extension, not a loss.
                SetState(LockHandleState.InJeopardy);
                _lastValidFor = TimeSpan.FromMilliseconds(200 + Random.Shared.Next(200));
                break;
            default:
                MarkEnded(LockHandleState.Lost, reply.Reason ?? reply.Status.ToString(), definite: true);
                break;
        }
    }

    private async Task KeepAliveLoopAsync()
    {
        var interval = _holderTimeout / 3;
        var request = new KeepAliveRequest(HolderId, _key, Epoch);
        var lastSend = _time.GetTimestamp();
        var failures = 0;
        while (!_stop.IsCancellationRequested && IsLive())
        {
            // Next keep-alive at send + min(interval, vf/2), floor 50 ms.
            // After a failed call (a silo died, the gateway is gone) retry sooner — 200 ms, doubling to at most
            // 1 s (never slower than the normal cadence): recovery then takes about the failover time, not
            // failover + interval.
            var cadence = failures == 0
                ? Max(Min(interval, _lastValidFor / 2), MinInterval)
                : Min(Max(Min(interval, _lastValidFor / 2), MinInterval), RetrySchedule.Backoff(failures + 1, TimeSpan.FromSeconds(1)));
            var wait = Min(cadence - _time.GetElapsedTime(lastSend), _validity.Remaining);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, _time, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            if (!IsLive())
            {
                return;
            }

            var sent = _validity.Mark();
            lastSend = sent.Timestamp;

            // kt = min(ValidUntil − now, ht/4, 2 s): a call never outlives the validity it could extend.
            var timeout = Min(Min(_validity.Remaining, _holderTimeout / 4), MaxKeepAliveTimeout);
            if (timeout <= TimeSpan.Zero)
            {
                CheckClock();
                return;
            }

            try
            {
                using var call = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                call.CancelAfter(timeout);
                var reply = await _grain.KeepAliveAsync(request, call.Token).ConfigureAwait(false);
                failures = 0;
                ApplyReply(reply, sent);
            }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                failures++;
                SetState(LockHandleState.InJeopardy);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private bool IsLive()
    {
        CheckClock();
        return _state is LockHandleState.Held or LockHandleState.InJeopardy;
    }
}
