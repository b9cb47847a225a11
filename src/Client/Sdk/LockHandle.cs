namespace CycleLock.Client;

/// <summary>
/// Ownership of one lock, kept alive by keep-alives to its grain (DESIGN §5).
/// <see cref="ValidUntil"/> = max over "held" replies for this epoch of (send time + valid-for) − m_w, on the
/// monotonic clock and the wall clock; never send + TTL. <see cref="LostToken"/> is cancelled at
/// <see cref="ValidUntil"/> or on a definite loss (re-granted, force-released, released as stalled) —
/// never merely because keep-alives are failing (that is <see cref="LockHandleState.InJeopardy"/>).
/// Every member checks the clock first, so a paused process finds the handle lost on its next call,
/// whether or not a timer has fired. Disposing releases as <c>completed</c> (idempotent).
/// </summary>
public sealed class LockHandle : IAsyncDisposable
{
    private static readonly TimeSpan MaxKeepAliveTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan ExpiryCheckInterval = TimeSpan.FromMilliseconds(500);

    private readonly ICycleLockGrain _grain;
    private readonly TimeProvider _time;
    private readonly CycleLockClientOptions _options;
    private readonly LeaseValidity _validity;
    private readonly LeaseKey _key;
    private readonly TimeSpan _holderTimeout;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ITimer _expiry;
    private readonly object _gate = new();
    private readonly object _events = new();
    private Task _loop = Task.CompletedTask;
    private Task<ReleaseReply?>? _release;
    private TimeSpan _lastValidFor;
    private LockHandleState _state;
    private string? _endReason;
    private bool _definiteLoss;
    private int _moved;
    private long _lastHeldSend;
    private long _heartbeat;

    internal LockHandle(ICycleLockGrain grain, string name, Guid holderId, LeaseKey key, AcquireReply granted,
        (long Timestamp, DateTimeOffset Wall) sent, TimeProvider time, CycleLockClientOptions options)
    {
        _grain = grain;
        _time = time;
        _options = options;
        _key = key;
        Name = name;
        HolderId = holderId;
        Epoch = granted.Epoch;
        Ttl = granted.Ttl;
        Attempts = granted.Attempts;
        Stalls = granted.Stalls;
        _holderTimeout = options.HolderTimeoutFor(granted.Ttl);
        _validity = new LeaseValidity(time, options.SdkMarginFor(granted.Ttl));
        _validity.OnHeld(sent, granted.ValidFor);
        _lastValidFor = granted.ValidFor;
        _lastHeldSend = sent.Timestamp;
        _heartbeat = time.GetTimestamp();
        _expiry = time.CreateTimer(static s => ((LockHandle)s!).OnExpiryTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        ArmExpiry();
    }

    /// <summary>Raised on every state change (from the keep-alive loop or a timer; keep handlers short).</summary>
    public event EventHandler<LockHandleState>? StateChanged;

    /// <summary>Raised when the handle enters <see cref="LockHandleState.InJeopardy"/>: keep-alives fail or
    /// the grain reports failing renewals. Not a loss; consider pausing side effects.</summary>
    public event EventHandler? Jeopardy;

    /// <summary>The lock's name (NFC-normalised).</summary>
    public string Name { get; }

    /// <summary>This acquire's holder id.</summary>
    public Guid HolderId { get; }

    /// <summary>The fencing epoch of this lease: pass it to the epoch guard before a protected write.</summary>
    public long Epoch { get; }

    /// <summary>The lease length.</summary>
    public TimeSpan Ttl { get; }

    /// <summary>Failed runs counted on the lock when it was granted.</summary>
    public int Attempts { get; }

    /// <summary>Stalls counted on the lock when it was granted.</summary>
    public int Stalls { get; }

    /// <summary>The current state (the clock is checked first).</summary>
    public LockHandleState State
    {
        get
        {
            CheckClock();
            return _state;
        }
    }

    /// <summary>Why the handle is lost or released, when it is.</summary>
    public string? EndReason
    {
        get
        {
            CheckClock();
            return _endReason;
        }
    }

    /// <summary>Until when this worker may act as holder, as a wall-clock instant (the decision itself uses
    /// the earlier of the monotonic and the wall-clock deadline; see <see cref="Remaining"/>).</summary>
    public DateTimeOffset ValidUntil
    {
        get
        {
            CheckClock();
            return _validity.ValidUntil;
        }
    }

    /// <summary>Time left before <see cref="ValidUntil"/> (zero or negative once passed).</summary>
    public TimeSpan Remaining
    {
        get
        {
            CheckClock();
            return _validity.Remaining;
        }
    }

    /// <summary>The monotonic timestamp (<see cref="TimeProvider.GetTimestamp"/>) at which the last request
    /// answered "held" for this epoch was sent.</summary>
    public long LastConfirmedSendTimestamp => Interlocked.Read(ref _lastHeldSend);

    /// <summary>Cancelled when ownership ends: <see cref="ValidUntil"/> passed, a definite loss, or a release.</summary>
    public CancellationToken LostToken
    {
        get
        {
            CheckClock();
            return _lost.Token;
        }
    }

    /// <summary>Throws <see cref="LockLostException"/> unless this handle may act as holder right now.
    /// Call it just before a side effect; after a process pause only the epoch guard protects writes.</summary>
    public void EnsureHeld()
    {
        CheckClock();
        if (_state is LockHandleState.Lost or LockHandleState.Released)
        {
            throw new LockLostException($"Lock {LockName.Quote(Name)} epoch {Epoch} is no longer held ({_endReason ?? _state.ToString()}).");
        }
    }

    /// <summary>Records progress of the work holding this lock (used by <c>WithRefreshingLockAsync</c>'s heartbeat timeout).</summary>
    public void Heartbeat()
    {
        CheckClock();
        Interlocked.Exchange(ref _heartbeat, _time.GetTimestamp());
    }

    /// <summary>Time since the last <see cref="Heartbeat"/> (or since the grant).</summary>
    public TimeSpan SinceHeartbeat => _time.GetElapsedTime(Interlocked.Read(ref _heartbeat));

    internal void Start() => _loop = Task.Run(KeepAliveLoopAsync);

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

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await ReleaseAsync(ReleaseReason.Completed).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Ownership has ended here either way; the grain ends the lease by stall.
        }

        await _expiry.DisposeAsync().ConfigureAwait(false);
    }

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
            catch (Exception e) when (e is not ArgumentException)
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

    // Decided from the clock, not from a timer: any member call after ValidUntil finds the handle lost.
    private void CheckClock()
    {
        if (!_validity.IsValid && _state is LockHandleState.Held or LockHandleState.InJeopardy)
        {
            MarkEnded(LockHandleState.Lost, "valid-until passed", definite: false);
        }
    }

    // At most 500 ms ahead: the monotonic clock stops while a machine is suspended, so the wall-clock
    // deadline is checked at least that often.
    private void ArmExpiry()
    {
        var remaining = Min(_validity.Remaining, ExpiryCheckInterval);
        try
        {
            _expiry.Change(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void OnExpiryTimer()
    {
        CheckClock();
        if (_state is LockHandleState.Held or LockHandleState.InJeopardy)
        {
            ArmExpiry(); // not yet due, or extended meanwhile
        }
    }

    private void SetState(LockHandleState state)
    {
        lock (_gate)
        {
            if (_state == state || _state is LockHandleState.Lost or LockHandleState.Released)
            {
                return;
            }

            _state = state;
        }

        Raise(state);
    }

    private void MarkEnded(LockHandleState state, string reason, bool definite)
    {
        lock (_gate)
        {
            if (!MarkEndedLocked(state, reason, definite))
            {
                return;
            }
        }

        AfterEnded();
    }

    private bool MarkEndedLocked(LockHandleState state, string reason, bool definite)
    {
        if (_state is LockHandleState.Lost or LockHandleState.Released)
        {
            return false;
        }

        _state = state;
        _endReason = reason;
        _definiteLoss = definite;
        return true;
    }

    // Outside the state lock: cancels the tokens (running the holder's callbacks) and raises the change.
    // A throwing callback or handler never stops the handle's own work (keep-alive loop, release, timers).
    private void AfterEnded()
    {
        Guarded(_lost.Cancel);
        Guarded(_stop.Cancel);
        Raise(_state);
    }

    // Handlers are invoked one at a time and only for the state that is still current, so no listener sees
    // InJeopardy after Lost.
    private void Raise(LockHandleState state)
    {
        lock (_events)
        {
            if (_state != state)
            {
                return;
            }

            Guarded(() => StateChanged?.Invoke(this, state));
            if (state == LockHandleState.InJeopardy)
            {
                Guarded(() => Jeopardy?.Invoke(this, EventArgs.Empty));
            }
        }
    }

    private static void Guarded(Action action)
    {
        try
        {
            action();
        }
#pragma warning disable CA1031 // The holder's callbacks are its own; their failures must not break the handle.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
