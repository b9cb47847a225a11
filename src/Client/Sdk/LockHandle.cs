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
public sealed partial class LockHandle : IAsyncDisposable
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
        // The silo's own ht and m_w for this lease, from the grant; the client's copies of the fractions only
        // serve a silo that predates them.
        _holderTimeout = granted.HolderTimeout > TimeSpan.Zero ? granted.HolderTimeout : options.HolderTimeoutFor(granted.Ttl);
        _validity = new LeaseValidity(time, granted.SdkMargin > TimeSpan.Zero ? granted.SdkMargin : options.SdkMarginFor(granted.Ttl));
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

    /// <summary>What the epoch guard authenticates this holder with: the SHA-256 of its lease key (the key itself
    /// never leaves the SDK; the holder id and epoch are public). For <c>CycleLock.Client.Guard</c>.</summary>
    internal byte[] GuardProof() => _key.Hash();

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

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
