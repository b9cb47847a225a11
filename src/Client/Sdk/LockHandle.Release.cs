namespace CycleLock.Client;

// Releasing: the handle ends first, then the release is sent, retried on the SDK retry schedule.
public sealed partial class LockHandle
{
    /// <summary>
    /// Releases the lock with <paramref name="reason"/> (default <c>completed</c>). The handle stops being the
    /// holder before anything is sent (<see cref="State"/> becomes <see cref="LockHandleState.Released"/> and
    /// <see cref="LostToken"/> is cancelled), because the next holder may be granted the moment the release
    /// commits. Idempotent: later calls share the first call's release, which runs to its end even when the
    /// caller's <paramref name="cancellationToken"/> stops waiting for it. After a definite loss nothing is
    /// sent and null is returned; after <see cref="ValidUntil"/> passed without a definite loss the lease is
    /// released as <c>lease-lost</c> (it burns and counts nothing) so that nothing is left behind. Throws
    /// <see cref="InvalidOperationException"/> when every try failed (the grain then ends the lease by stall).
    /// </summary>
    public Task<ReleaseReply?> ReleaseAsync(ReleaseReason reason = ReleaseReason.Completed, CancellationToken cancellationToken = default)
    {
        if (!Enum.IsDefined(reason) || reason is ReleaseReason.Stalled or ReleaseReason.Abandoned)
        {
            throw new ArgumentOutOfRangeException(nameof(reason), reason, $"Release reason {reason} is not allowed (rule: completed, failed, lease-lost or shutdown).");
        }

        CheckClock();
        Task<ReleaseReply?> release;
        var ended = false;
        lock (_gate)
        {
            if (_release is null)
            {
                // A handle that was lost (valid-until passed, or definitely) did not finish its work under
                // ownership: whatever was asked, its release burns and counts nothing.
                var sent = _state == LockHandleState.Lost ? ReleaseReason.LeaseLost : reason;
                var definite = _definiteLoss;
                ended = MarkEndedLocked(LockHandleState.Released, $"released ({sent.ToText()})", definite);
                _release = ReleaseOnceAsync(sent, definite);
                _release.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }

            release = _release;
        }

        if (ended)
        {
            AfterEnded();
        }

        return release.WaitAsync(cancellationToken);
    }

    private async Task<ReleaseReply?> ReleaseOnceAsync(ReleaseReason reason, bool definite)
    {
        await Task.Yield();
        try
        {
            await _loop.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The loop's end (cancelled, or faulted by a throwing handler) must not stop the release.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        if (definite)
        {
            return null; // the grain has ended this epoch already; there is nothing to release
        }

        Exception? last = null;
        for (var attempt = 0; attempt < _options.ReleaseTries; attempt++)
        {
            if (attempt > 0)
            {
                // Backed off, so the tries outlast a gateway blip or a failover of the serving silo: a release that
                // fails for good leaves the lease to end by stall (a counted stall, the lock unusable until then).
                await Task.Delay(RetrySchedule.Backoff(attempt), _time).ConfigureAwait(false);
            }

            try
            {
                using var call = new CancellationTokenSource(RetrySchedule.TryTimeout(attempt, _options.ReleaseCallTimeout));
                var reply = await _grain.ReleaseAsync(new ReleaseRequest(HolderId, _key, Epoch, reason), call.Token).ConfigureAwait(false);

                // A retried release finds its own reason recorded; any other recorded end (a stall, a
                // force-release) means the lease was lost before this release reached it.
                var ours = reply.Status == ReleaseStatus.Released
                    || (reply.Status == ReleaseStatus.AlreadyReleased && reply.RecordedReason == reason.ToText());
                lock (_gate)
                {
                    _endReason = reply.RecordedReason ?? reason.ToText();
                    if (!ours)
                    {
                        _state = LockHandleState.Lost; // terminal to terminal: the release found the lease already gone
                    }
                }

                return reply;
            }
            catch (Exception e) when (e is not (ArgumentException or CycleLockAccessDeniedException))
            {
                last = e;
            }
        }

        lock (_gate)
        {
            _endReason = "release failed; the grain ends the lease by stall";
        }

        throw new InvalidOperationException($"Release of lock {LockName.Quote(Name)} epoch {Epoch} failed after {_options.ReleaseTries} tries; the grain ends it by stall.", last);
    }
}
