using CycleLock.Hosting;
using CycleLock.Leasing;
using CycleLock.Persistence;
using CycleLock.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CycleLock;

/// <summary>
/// One job lock: a thin Orleans shell over <see cref="LeaseCore"/>. Acquire, adopt, release,
/// force-release and the renewal timer are serialized (the grain is not reentrant); keep-alive and
/// inspect always interleave and never wait behind a renewal that is retrying.
/// </summary>
[GrainType("cycle-lock")]
[ValidatedNamePlacement]
public sealed partial class CycleLockGrain : Grain, ICycleLockGrain, ILockOperatorGrain, ICycleLockAdoption, ILockStateView
{
    // A force-release may wait for an epoch guard (the store's force-release lock timeout) and then retry.
    private static readonly TimeSpan ForceReleaseBudget = TimeSpan.FromSeconds(30);

    private readonly ILeaseStore _store;
    private readonly TimeProvider _time;
    private readonly CycleLockOptions _options;
    private readonly ILogger<CycleLockGrain> _logger;
    private readonly CycleLockMetrics _metrics;
    private readonly HeldLeases _held;
    private LeaseCore? _core;
    private IGrainTimer? _timer;
    private WaitingRoom<ILockWaiter>? _room;
    private int _acquiresInFlight;

    /// <summary>Created by Orleans.</summary>
    public CycleLockGrain(ILeaseStore store, TimeProvider time, IOptions<CycleLockOptions> options, ILogger<CycleLockGrain> logger, CycleLockMetrics metrics, HeldLeases held)
    {
        _held = held;
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _time = time;
        _options = options.Value;
        _logger = logger;
        _metrics = metrics;
    }

    private LeaseCore Core => _core ?? throw new InvalidOperationException("The grain is not activated.");

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var activation = $"{GrainContext.Address.SiloAddress}/{GrainContext.ActivationId}";
        _core = new LeaseCore(this.GetPrimaryKeyString(), activation, _store, _time, _options, _logger, _metrics, _held);
        _room = new WaitingRoom<ILockWaiter>(_options.MaxWaiters, _options.OfferWindow);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // A deactivation (silo shutdown, idle collection, moved) releases nothing: the lease row stays held.
        _core?.Deactivated();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<AcquireReply> TryAcquireAsync(AcquireRequest request, CancellationToken cancellationToken = default)
    {
        RequestRules.Acquire(request, Core.Floor, _options.MaxTtl);
        if (GiveWayToWaiters(request) is { } queued)
        {
            return queued;
        }

        // While an acquire is on its way to the database the lock may be granted at any moment: the waiter pump
        // must not offer it meanwhile (an offer then sends the head waiter into a busy answer and out of order).
        _acquiresInFlight++;
        if (request.WaiterId != Guid.Empty)
        {
            Room.Answering(request.WaiterId);
        }

        AcquireReply? reply = null;
        try
        {
            reply = await TurnAsync((core, token) => core.AcquireAsync(request, token), cancellationToken);
            return reply;
        }
        finally
        {
            _acquiresInFlight--;
            OnAcquireReply(request, reply); // null when the acquire failed without an answer
        }
    }

    /// <inheritdoc />
    public ValueTask<KeepAliveReply> KeepAliveAsync(KeepAliveRequest request, CancellationToken cancellationToken = default)
    {
        // Answered from memory, without an await, whenever this activation serves the lease. Otherwise the
        // non-interleaving adoption runs as its own request (an always-interleave request never blocks the grain).
        var answer = Core.TryAnswerKeepAlive(request);
        return answer is not null
            ? ValueTask.FromResult(answer)
            : new ValueTask<KeepAliveReply>(this.AsReference<ICycleLockAdoption>().AdoptAsync(request, cancellationToken));
    }

    /// <inheritdoc />
    public Task<KeepAliveReply> AdoptAsync(KeepAliveRequest request, CancellationToken cancellationToken = default) =>
        TurnAsync((core, token) => core.AdoptAsync(request, token), cancellationToken);

    /// <inheritdoc />
    public Task<LockInfo> InspectAsync(CancellationToken cancellationToken = default) => _store.GetAsync(Core.Name, cancellationToken);

    /// <inheritdoc />
    public Task<LockGrainState> GetState()
    {
        var held = Core.Phase is LeasePhase.Held or LeasePhase.Ending && Core.Epoch is not null;
        var left = Core.Deadline - Core.Now();
        return Task.FromResult(new LockGrainState(
            Core.Name,
            Core.Phase.ToString(),
            held ? LockName.Printable(Core.HolderLabel) : null,
            held ? Core.Epoch : null,
            held ? Math.Round(Math.Max(0, left.TotalSeconds), 1) : null,
            _room?.Count ?? 0));
    }

    /// <inheritdoc />
    public Task<ReleaseReply> ReleaseAsync(ReleaseRequest request, CancellationToken cancellationToken = default) =>
        TurnAsync((core, token) => core.ReleaseAsync(request, token), cancellationToken);

    /// <inheritdoc />
    public Task<ForceReleaseReply> ForceReleaseAsync(ForceReleaseRequest request, CancellationToken cancellationToken = default)
    {
        // The operator the access filter authenticated for this call, recorded in history next to the declared By.
        var operatorName = Caller.OperatorName;

        // Not cancelled by its caller once started: an operator's force-release in doubt is settled by the grain.
        return TurnAsync((core, token) => core.ForceReleaseAsync(request, operatorName, token), CancellationToken.None, ForceReleaseBudget);
    }

    /// <inheritdoc />
    public Task<AbandonReply> AbandonAsync(AbandonRequest request, CancellationToken cancellationToken = default) =>
        // Runs even when its caller stopped waiting: an abandon exists for replies that did not arrive, and it often
        // queues behind the very acquire whose reply is late. Skipping it would leave that grant to end by stall.
        TurnAsync((core, token) => core.AbandonAsync(request, token), CancellationToken.None);

    /// <inheritdoc />
    public Task<ResetReply> ResetAsync(string by, CancellationToken cancellationToken = default)
    {
        var operatorName = Caller.OperatorName;
        return TurnAsync((core, token) => core.ResetAsync(by, operatorName, token), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<LockHistoryEntry[]> GetHistoryAsync(int limit, long? beforeId, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"History limit {limit} is out of range (rule: 1 to 1000).");
        }

        var entries = await _store.HistoryAsync(Core.Name, beforeId, limit, cancellationToken);
        return [.. entries];
    }

    private async Task OnTimerAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Core.OnTimerAsync(cancellationToken);
        }
        finally
        {
            ApplyTimerRequest();
            PumpWaiters();
        }
    }

    private void ApplyTimerRequest()
    {
        if (Core.TakeTimerRequest() is not { } request)
        {
            return;
        }

        if (request.Due is { } due)
        {
            if (_timer is null)
            {
                // KeepAlive only while a lease is served; not interleaving, so a renewal is serialized
                // with acquire and release.
                _timer = this.RegisterGrainTimer(
                    static (grain, token) => grain.OnTimerAsync(token),
                    this,
                    new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = false, KeepAlive = true });
            }
            else
            {
                _timer.Change(due, Timeout.InfiniteTimeSpan);
            }
        }
        else
        {
            _timer?.Dispose();
            _timer = null;
        }

        if (request.Deactivate)
        {
            DeactivateOnIdle();
        }
    }

    // One serialized turn: bounded by the caller's token and the turn budget (the attempt timeout, or the
    // force-release lock wait), and the timer follows whatever the turn asked for, even when it threw.
    private async Task<T> TurnAsync<T>(Func<LeaseCore, CancellationToken, Task<T>> turn, CancellationToken cancellationToken, TimeSpan? budget = null)
    {
        // A request whose caller gave up while it queued for this turn costs nothing more (Orleans cancels the
        // token when the caller's does): a storm of timed-out calls must not go on running after its callers left.
        cancellationToken.ThrowIfCancellationRequested();
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(budget ?? _options.MaxAttemptTimeout);
        try
        {
            return await turn(Core, bounded.Token);
        }
        finally
        {
            ApplyTimerRequest();
            PumpWaiters();
        }
    }
}
