namespace CycleLock.Client;

/// <summary>
/// Ownership of one lock, kept alive by keep-alives to its grain. <see cref="LostToken"/> is cancelled
/// at <see cref="ValidUntil"/> or on a definite loss — never merely because keep-alives are failing
/// (that is <see cref="LockHandleState.InJeopardy"/>). Disposing releases as <c>completed</c>.
/// </summary>
public sealed class LockHandle : IAsyncDisposable
{
    private static readonly TimeSpan MaxKeepAliveTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(50);

    private readonly ICycleLockGrain _grain;
    private readonly TimeProvider _time;
    private readonly LeaseValidity _validity;
    private readonly LeaseKey _key;
    private readonly TimeSpan _holderTimeout;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private Task _loop = Task.CompletedTask;
    private TimeSpan _lastValidFor;
    private LockHandleState _state;
    private string? _endReason;

    internal LockHandle(ICycleLockGrain grain, string name, Guid holderId, LeaseKey key, AcquireReply granted,
        (long, DateTimeOffset) sent, TimeProvider time, CycleLockClientOptions options)
    {
        _grain = grain;
        _time = time;
        _key = key;
        Name = name;
        HolderId = holderId;
        Epoch = granted.Epoch;
        Ttl = granted.Ttl;
        _holderTimeout = options.HolderTimeoutFor(granted.Ttl);
        _validity = new LeaseValidity(time, options.SdkMarginFor(granted.Ttl));
        _validity.OnHeld(sent, granted.ValidFor);
        _lastValidFor = granted.ValidFor;
    }

    /// <summary>Raised when the state changes (from the keep-alive loop; keep handlers short).</summary>
    public event EventHandler<LockHandleState>? StateChanged;

    /// <summary>The lock's name.</summary>
    public string Name { get; }

    /// <summary>This acquire's holder id.</summary>
    public Guid HolderId { get; }

    /// <summary>The fencing epoch of this lease.</summary>
    public long Epoch { get; }

    /// <summary>The lease length.</summary>
    public TimeSpan Ttl { get; }

    /// <summary>The current state.</summary>
    public LockHandleState State => _state;

    /// <summary>Why the handle is lost or released, when it is.</summary>
    public string? EndReason => _endReason;

    /// <summary>Until when this worker may act as holder (wall-clock estimate; see <see cref="LeaseValidity"/>).</summary>
    public DateTimeOffset ValidUntil => _validity.ValidUntil;

    /// <summary>Time left before <see cref="ValidUntil"/>.</summary>
    public TimeSpan Remaining => _validity.Remaining;

    /// <summary>Cancelled when ownership ends (valid-until passed, definite loss, or release).</summary>
    public CancellationToken LostToken => _lost.Token;

    /// <summary>Throws <see cref="LockLostException"/> unless this handle may act as holder right now.
    /// Call it just before a side effect; after a process pause only the epoch guard protects writes.</summary>
    public void EnsureHeld()
    {
        if (_state is LockHandleState.Lost or LockHandleState.Released || !_validity.IsValid)
        {
            if (!_validity.IsValid)
            {
                MarkEnded(LockHandleState.Lost, "valid-until passed");
            }

            throw new LockLostException($"Lock {LockName.Quote(Name)} epoch {Epoch} is no longer held ({_endReason ?? _state.ToString()}).");
        }
    }

    internal void Start() => _loop = Task.Run(KeepAliveLoopAsync);

    /// <summary>Releases the lock with <paramref name="reason"/>. Idempotent; a lost handle returns its loss.</summary>
    public async Task<ReleaseReply?> ReleaseAsync(ReleaseReason reason = ReleaseReason.Completed, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_state is LockHandleState.Lost or LockHandleState.Released)
            {
                return null;
            }
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                var reply = await _grain.ReleaseAsync(new ReleaseRequest(HolderId, _key, Epoch, reason), timeout.Token).ConfigureAwait(false);
                MarkEnded(reply.Status == ReleaseStatus.Lost ? LockHandleState.Lost : LockHandleState.Released, reply.RecordedReason ?? reason.ToText());
                return reply;
            }
            catch (Exception e) when (e is not ArgumentException && !cancellationToken.IsCancellationRequested)
            {
                last = e;
            }
        }

        // The grain will find the holder silent and release it as stalled; ownership ends here either way.
        MarkEnded(LockHandleState.Released, "release failed; the lease ends by stall");
        throw new InvalidOperationException($"Release of lock {LockName.Quote(Name)} epoch {Epoch} failed after 3 tries.", last);
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
            // Already reported as Released with the failure reason; the stall release ends the lease.
        }

        _lost.Dispose();
        _stop.Dispose();
    }

    private async Task KeepAliveLoopAsync()
    {
        var interval = _holderTimeout / 3;
        var request = new KeepAliveRequest(HolderId, _key, Epoch);
        var lastSend = _time.GetTimestamp();
        while (!_stop.IsCancellationRequested && _state is LockHandleState.Held or LockHandleState.InJeopardy)
        {
            var cadence = Max(Min(interval, _lastValidFor / 2), MinInterval);
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

            if (!_validity.IsValid)
            {
                MarkEnded(LockHandleState.Lost, "valid-until passed");
                return;
            }

            var sent = _validity.Mark();
            lastSend = sent.Timestamp;

            // kt = min(ValidUntil − now, ht/4, 2 s): a call never outlives the validity it could extend, so
            // LostToken fires on time even when the call hangs.
            var timeout = Min(Min(_validity.Remaining, _holderTimeout / 4), MaxKeepAliveTimeout);
            if (timeout <= TimeSpan.Zero)
            {
                MarkEnded(LockHandleState.Lost, "valid-until passed");
                return;
            }

            try
            {
                using var call = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                call.CancelAfter(timeout);
                var reply = await _grain.KeepAliveAsync(request, call.Token).ConfigureAwait(false);
                OnReply(reply, sent);
            }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                SetState(LockHandleState.InJeopardy);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void OnReply(KeepAliveReply reply, (long, DateTimeOffset) sent)
    {
        switch (reply.Status)
        {
            case KeepAliveStatus.Held when reply.Epoch == Epoch:
                _validity.OnHeld(sent, reply.ValidFor);
                _lastValidFor = reply.ValidFor;
                SetState(reply.RenewFailingSince is null ? LockHandleState.Held : LockHandleState.InJeopardy);
                break;
            case KeepAliveStatus.Moved:
                // Served by another activation: not lost. The next keep-alive goes shortly (jittered).
                _lastValidFor = TimeSpan.FromMilliseconds(100 + Random.Shared.Next(100));
                break;
            case KeepAliveStatus.Uncertain:
                // The activation cannot vouch for the lease now: jeopardy, no extension, not a loss.
                SetState(LockHandleState.InJeopardy);
                _lastValidFor = TimeSpan.FromMilliseconds(200 + Random.Shared.Next(200));
                break;
            default:
                MarkEnded(LockHandleState.Lost, reply.Reason ?? reply.Status.ToString());
                break;
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

        StateChanged?.Invoke(this, state);
    }

    private void MarkEnded(LockHandleState state, string reason)
    {
        lock (_gate)
        {
            if (_state is LockHandleState.Lost or LockHandleState.Released)
            {
                return;
            }

            _state = state;
            _endReason = reason;
        }

        try
        {
            _lost.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        StateChanged?.Invoke(this, state);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
