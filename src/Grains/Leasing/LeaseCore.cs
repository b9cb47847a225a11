using CycleLock.Persistence;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CycleLock.Leasing;

/// <summary>
/// The lease state machine behind one <c>CycleLockGrain</c> activation (DESIGN §4), free of Orleans:
/// all time comes from <see cref="TimeProvider"/> (monotonic timestamps for local deadlines), all I/O
/// from <see cref="ILeaseStore"/>. The grain serializes <see cref="AcquireAsync"/>, <see cref="AdoptAsync"/>,
/// <see cref="ReleaseAsync"/>, <see cref="ForceReleaseAsync"/>, <see cref="AbandonAsync"/> and
/// <see cref="OnTimerAsync"/>; <see cref="TryAnswerKeepAlive"/> interleaves with all of them and only
/// reads and writes fields synchronously.
/// </summary>
public sealed partial class LeaseCore
{
    private const int TombstoneCapacity = 8;

    private readonly string _name;
    private readonly string _activation;
    private readonly ILeaseStore _store;
    private readonly TimeProvider _time;
    private readonly CycleLockOptions _options;
    private readonly ILogger _logger;
    private readonly long _origin;
    private readonly TimeSpan _floor;
    private readonly Queue<EndedLease> _ended = new();

    private ServedLease? _lease;
    private LeasePhase _phase;
    private TimeSpan _deadline;
    private TimeSpan _promisedUntil;
    private TimeSpan _lastHeard;
    private DateTimeOffset? _renewFailingSince;
    private int _failures;
    // The last statement that reported the database clock: when it was sent and answered (monotonic), and the
    // database's now() it returned, which lies somewhere between the two.
    private (TimeSpan Sent, TimeSpan Received, DateTimeOffset Db)? _lastRenewClock;

    // The phase whose failing store calls were last logged at Warning (null after a success).
    private LeasePhase? _failureLoggedFor;
    private EndingKind _endingKind;
    private string _endingReason = string.Empty;
    private ForceCommand? _pendingForce;
    private TimerRequest? _timerRequest;
    private readonly CycleLockMetrics _metrics;
    private readonly HeldLeases _held;

    // Whether the holder sent a keep-alive since its grant: a grant never kept alive is an abandoned grant, released as
    // stalled (schedulers still hear of it) but not counted towards MaxStalls — else anyone who may acquire a name could
    // make it dead with MaxStalls grants it never keeps alive.
    private bool _keptAlive;

    /// <summary>Creates the core for lock <paramref name="name"/> served by <paramref name="activation"/>; it counts on
    /// <paramref name="metrics"/> (default <see cref="CycleLockMetrics.Unhosted"/>).</summary>
    public LeaseCore(string name, string activation, ILeaseStore store, TimeProvider time, CycleLockOptions options, ILogger? logger = null, CycleLockMetrics? metrics = null, HeldLeases? held = null)
    {
        _name = LockName.Normalize(name);
        if (_name != name)
        {
            throw new ArgumentException($"Lock name {LockName.Quote(name)} is not NFC-normalised (rule: grain keys are LockName.Normalize(name)).", nameof(name));
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(activation);
        _activation = activation;
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger ?? NullLogger.Instance;
        _metrics = metrics ?? CycleLockMetrics.Unhosted;
        _held = held ?? new HeldLeases();
        _origin = time.GetTimestamp();
        _floor = LeaseTiming.Floor(options);
    }

    /// <summary>The lock's name.</summary>
    public string Name => _name;

    /// <summary>This activation's identity as stored in the lease row.</summary>
    public string Activation => _activation;

    /// <summary>The phase of the lease this activation serves.</summary>
    public LeasePhase Phase => _phase;

    /// <summary>The epoch served, when any.</summary>
    public long? Epoch => _lease?.Epoch;

    /// <summary>The label of the holder served, when any.</summary>
    public string? HolderLabel => _lease?.Label;

    /// <summary>The smallest TTL this core accepts.</summary>
    public TimeSpan Floor => _floor;

    /// <summary>D_g, the grain's deadline, on this core's monotonic clock.</summary>
    public TimeSpan Deadline => _deadline;

    /// <summary>The latest end of any promise made for the served epoch, on this core's monotonic clock.</summary>
    public TimeSpan PromisedUntil => _promisedUntil;

    /// <summary>When the holder was last heard, on this core's monotonic clock.</summary>
    public TimeSpan LastHeard => _lastHeard;

    /// <summary>Database clock jumps seen by renewals (DESIGN §4).</summary>
    public int ClockJumps { get; private set; }

    /// <summary>Adoptions that took a lease over from another activation.</summary>
    public int DisplacingAdoptions { get; private set; }

    /// <summary>Monotonic now, relative to this core's creation.</summary>
    public TimeSpan Now() => _time.GetElapsedTime(_origin);

    /// <summary>The activation is going away: its served lease (if any) no longer counts as a hold here.
    /// Deactivating never releases anything.</summary>
    public void Deactivated()
    {
        if (_lease is { } lease)
        {
            _metrics.Hold(-1);
            _held.Remove(lease.Label);
        }
    }

    /// <summary>True when this activation serves (or is ending) a lease of <paramref name="holderId"/>.</summary>
    public bool ServesHolder(Guid holderId) => _lease?.HolderId == holderId;

    /// <summary>Takes the timer change the last turn asked for, if any.</summary>
    public TimerRequest? TakeTimerRequest()
    {
        var request = _timerRequest;
        _timerRequest = null;
        return request;
    }

    /// <summary>
    /// Answers a keep-alive from memory, or returns null when this activation does not serve the
    /// holder's lease (the grain then awaits <see cref="AdoptAsync"/>). Never awaits.
    /// </summary>
    public KeepAliveReply? TryAnswerKeepAlive(KeepAliveRequest request)
    {
        RequestRules.KeepAlive(request);
        var now = Now();
        if (_lease is { } lease && lease.HolderId == request.HolderId && lease.Epoch == request.Epoch)
        {
            if (!lease.KeyMatches(request.Key))
            {
                return Reply(KeepAliveStatus.Lost, request.Epoch, "lease key does not match");
            }

            switch (_phase)
            {
                case LeasePhase.Held:
                    if (now >= _deadline)
                    {
                        DeclareLoss("deadline passed without a successful renewal");
                        return Reply(KeepAliveStatus.Uncertain, lease.Epoch, _endingReason);
                    }

                    _lastHeard = now;
                    _keptAlive = true;
                    return HeldReply(now);
                case LeasePhase.Ending:
                    // The holder's own release is final for it; a stall or force-release is not final until
                    // the database answers (the lease may be served by another activation meanwhile).
                    return Reply(_endingKind == EndingKind.HolderRelease ? KeepAliveStatus.Released : KeepAliveStatus.Uncertain, lease.Epoch, _endingReason);
                case LeasePhase.Lost:
                    return Reply(KeepAliveStatus.Uncertain, lease.Epoch, _endingReason);
                case LeasePhase.Moved:
                    return Reply(KeepAliveStatus.Moved, lease.Epoch, "served by another activation");
            }
        }

        foreach (var ended in _ended)
        {
            if (ended.HolderId == request.HolderId && ended.Epoch == request.Epoch)
            {
                return Reply(ended.Status, ended.Epoch, ended.Reason);
            }
        }

        return null;
    }

    /// <summary>The serialized adoption a keep-alive awaits when this activation does not serve its lease.</summary>
    public async Task<KeepAliveReply> AdoptAsync(KeepAliveRequest request, CancellationToken cancellationToken)
    {
        if (TryAnswerKeepAlive(request) is { } answer)
        {
            return answer;
        }

        await SettlePendingForceAsync(cancellationToken);
        var sent = Now();
        var result = await _store.AdoptAsync(_name, request.HolderId, request.Key, request.Epoch, _activation, cancellationToken);
        switch (result.Outcome)
        {
            case StoreOutcome.Adopted:
                Serve(new ServedLease(request.HolderId, request.Key, result.Epoch, result.HolderLabel, TimingOf(result)), sent, result);
                _keptAlive = true; // an adoption is the holder's keep-alive reaching this activation
                if (result.PreviousActivation is { } previous && previous != _activation)
                {
                    DisplacingAdoptions++;
                    _metrics.DisplacingAdoption();
                    Log.Adopted(_logger, _name, result.Epoch, previous);
                }

                return HeldReply(Now());
            case StoreOutcome.Ended:
                return Reply(StatusOfEnd(result.Reason), request.Epoch, result.Reason ?? "ended");
            default:
                return Reply(KeepAliveStatus.Lost, request.Epoch, $"lease is not held by this holder (current epoch {result.Epoch})");
        }
    }

    private KeepAliveReply HeldReply(TimeSpan now)
    {
        var lease = _lease!;
        var validFor = Min(_deadline - now, lease.Timing.HolderTimeout);
        if (validFor <= TimeSpan.Zero)
        {
            DeclareLoss("deadline passed without a successful renewal");
            return Reply(KeepAliveStatus.Uncertain, lease.Epoch, _endingReason);
        }

        _promisedUntil = Max(_promisedUntil, now + validFor);
        return new KeepAliveReply(KeepAliveStatus.Held, lease.Epoch, validFor, _renewFailingSince, null);
    }

    private void Serve(ServedLease lease, TimeSpan sent, StoreResult result)
    {
        if (_lease is { } previous && (previous.HolderId != lease.HolderId || previous.Epoch != lease.Epoch) && _phase != LeasePhase.Idle)
        {
            // The store granted or adopted another lease of this lock: the one served before is gone.
            Remember(previous, KeepAliveStatus.Lost, "lease moved on (re-granted)");
        }

        var now = Now();
        var isNew = _lease is null || _lease.HolderId != lease.HolderId || _lease.Epoch != lease.Epoch;
        if (_lease is null)
        {
            _metrics.Hold(1);
            _held.Add(lease.Label);
        }
        else if (!string.Equals(_lease.Label, lease.Label, StringComparison.Ordinal))
        {
            _held.Remove(_lease.Label);
            _held.Add(lease.Label);
        }

        _lease = lease;
        _phase = LeasePhase.Held;
        _deadline = sent + result.Remaining - lease.Timing.Margin;
        if (isNew)
        {
            _promisedUntil = TimeSpan.Zero;
            _keptAlive = false;
        }

        _lastHeard = now;
        _renewFailingSince = null;
        _failures = 0;
        _failureLoggedFor = null;
        _lastRenewClock = (sent, now, result.DbNow);
        _pendingForce = null;
        _timerRequest = new TimerRequest(NextRenewal(lease.Timing), false);
    }

    private void DeclareLoss(string reason)
    {
        if (_phase != LeasePhase.Held)
        {
            return;
        }

        _phase = LeasePhase.Lost;
        _endingReason = reason;
        _metrics.Lost("deadline");
        Log.Lost(_logger, _name, _lease!.Epoch, reason);
    }

    private void BeginEnding(EndingKind kind, string reason)
    {
        _phase = LeasePhase.Ending;
        _endingKind = kind;
        _endingReason = reason;
    }

    private void Remember(ServedLease lease, KeepAliveStatus status, string reason)
    {
        _ended.Enqueue(new EndedLease(lease.HolderId, lease.Epoch, status, reason));
        while (_ended.Count > TombstoneCapacity)
        {
            _ended.Dequeue();
        }
    }

    private void End(KeepAliveStatus status, string reason)
    {
        if (_lease is { } lease)
        {
            Remember(lease, status, reason);
            _metrics.Hold(-1);
            _held.Remove(lease.Label);
        }

        _lease = null;
        _phase = LeasePhase.Idle;
        _pendingForce = null;
        _timerRequest = new TimerRequest(null, false);
    }

    private EndedLease? EndedFor(Guid holderId, long epoch)
    {
        foreach (var ended in _ended)
        {
            if (ended.HolderId == holderId && ended.Epoch == epoch)
            {
                return ended;
            }
        }

        return null;
    }

    private bool Serves(Guid holderId, long epoch) => _lease is { } l && l.HolderId == holderId && l.Epoch == epoch;

    private LeaseTiming TimingOf(StoreResult result) =>
        LeaseTiming.For(result.Ttl ?? throw new InvalidOperationException("A held lease row has no TTL."), _options);

    private static KeepAliveStatus StatusOfEnd(string? reason) => EndReasons.StatusOf(reason);

    private static KeepAliveReply Reply(KeepAliveStatus status, long epoch, string reason) =>
        new(status, epoch, TimeSpan.Zero, null, reason);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    // A force-release with the operator the silo authenticated for it (kept while its outcome is in doubt).
    private sealed record ForceCommand(ForceReleaseRequest Request, string Operator);
}
