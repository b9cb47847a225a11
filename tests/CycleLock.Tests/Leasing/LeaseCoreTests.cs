using CycleLock.Leasing;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace CycleLock.Tests.Leasing;

/// <summary>The lease state machine on a fake clock (the fake store's database clock is the same clock).</summary>
public sealed class LeaseCoreTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);
    private static readonly CycleLockOptions Options = new() { FailoverFloor = FailoverFloorMode.Warn };
    private static readonly LeaseTiming Timing = LeaseTiming.For(Ttl, Options);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
    private readonly ControllableLeaseStore _store;
    private readonly Guid _holder = Guid.NewGuid();
    private readonly LeaseKey _key = LeaseKey.New();

    public LeaseCoreTests() => _store = new ControllableLeaseStore(new InMemoryLeaseStore(_time));

    private LeaseCore NewCore(string activation = "act-1") => new("job", activation, _store, _time, Options);

    private async Task<(LeaseCore Core, AcquireReply Grant)> GrantedAsync()
    {
        var core = NewCore();
        var grant = await core.AcquireAsync(new AcquireRequest(_holder, "worker", _key, Ttl), CancellationToken.None);
        Assert.Equal(AcquireStatus.Granted, grant.Status);
        return (core, grant);
    }

    private KeepAliveRequest KeepAlive(long epoch) => new(_holder, _key, epoch);

    [Fact]
    public async Task ValidFor_IsMinOfDeadlineLeftAndHolderTimeout()
    {
        var (core, grant) = await GrantedAsync();
        Assert.Equal(Timing.HolderTimeout, grant.ValidFor);

        _time.Advance(TimeSpan.FromSeconds(40));
        var reply = core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!;

        Assert.Equal(KeepAliveStatus.Held, reply.Status);
        Assert.Equal(Ttl - Timing.Margin - TimeSpan.FromSeconds(40), reply.ValidFor);
        Assert.Equal(core.Now() + reply.ValidFor, core.PromisedUntil);
    }

    [Fact]
    public async Task Deadline_IsSendTimeOfTheStatementPlusItsRemainingTimeMinusMargin()
    {
        var core = NewCore();
        var latency = TimeSpan.FromSeconds(2);
        _store.Before = (_, _) =>
        {
            _time.Advance(latency); // the statement reaches the database 2 s after it was sent
            return Task.CompletedTask;
        };
        var sent = core.Now();

        await core.AcquireAsync(new AcquireRequest(_holder, "worker", _key, Ttl), CancellationToken.None);

        // The database computed expires_at 2 s after the send; the grain must not count those 2 s twice
        // nor assume the statement ran at the send: D_g = send + remaining − m.
        Assert.Equal(sent + Ttl - Timing.Margin, core.Deadline);

        _time.Advance(Timing.RenewPeriod - latency);
        var renewSent = core.Now();
        await core.OnTimerAsync(CancellationToken.None);
        Assert.Equal(renewSent + Ttl - Timing.Margin, core.Deadline);
    }

    [Fact]
    public async Task GrantsNeverKeptAlive_AreReleasedAsStalled_ButNotCounted_SoTheyCannotMakeTheLockDead()
    {
        // Issue 15: MaxStalls (3) grants that never sent a keep-alive used to make a predictable name dead.
        for (var i = 0; i < Options.MaxStalls + 1; i++)
        {
            var core = NewCore();
            var grant = await core.AcquireAsync(new AcquireRequest(Guid.NewGuid(), "abandoned", LeaseKey.New(), Ttl), CancellationToken.None);
            Assert.Equal(AcquireStatus.Granted, grant.Status);
            for (var turns = 0; turns < 10 && core.Phase != LeasePhase.Idle; turns++)
            {
                _time.Advance(Timing.RenewPeriod);
                await core.OnTimerAsync(CancellationToken.None);
            }

            Assert.Equal(LeasePhase.Idle, core.Phase);
        }

        var info = await _store.GetAsync("job", CancellationToken.None);
        Assert.Equal((LockState.Free, "stalled", 0), (info.State, info.LastReleaseReason, info.Stalls));
        var history = await _store.HistoryAsync("job", null, 50, CancellationToken.None);
        Assert.Equal(Options.MaxStalls + 1, history.Count(h => h.Reason == "stalled")); // each still ends in history (and the feed)
    }

    [Fact]
    public async Task Stall_OnlyWhenNowReachesMaxOfPromisedUntilAndLastHeardPlusHolderTimeout()
    {
        var (core, grant) = await GrantedAsync();
        _time.Advance(TimeSpan.FromSeconds(5));
        var heard = core.Now();
        var reply = core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!;
        var stallAt = heard + Timing.HolderTimeout;
        Assert.Equal(heard + reply.ValidFor, core.PromisedUntil);

        while (core.Now() + Timing.RenewPeriod < stallAt)
        {
            _time.Advance(Timing.RenewPeriod);
            await core.OnTimerAsync(CancellationToken.None);
            Assert.Equal(LeasePhase.Held, core.Phase);
        }

        _time.Advance(stallAt - core.Now() - TimeSpan.FromMilliseconds(1));
        await core.OnTimerAsync(CancellationToken.None);
        Assert.Equal(LeasePhase.Held, core.Phase);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await core.OnTimerAsync(CancellationToken.None);

        Assert.Equal(LeasePhase.Idle, core.Phase);
        var info = await _store.GetAsync("job", CancellationToken.None);
        Assert.Equal((LockState.Free, "stalled", 1, 0), (info.State, info.LastReleaseReason, info.Stalls, info.Attempts));
        Assert.Equal(KeepAliveStatus.Released, core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.Status);
    }

    [Fact]
    public async Task Loss_DeadlinePassesWhileStoreIsDown_RecordedOnceAndNeverHeldAgain()
    {
        var (core, grant) = await GrantedAsync();
        var down = true;
        _store.Before = (_, _) => down ? throw new IOException("database unreachable") : Task.CompletedTask;

        // Keep-alives continue (no stall); renewals fail until the deadline passes.
        while (core.Now() < core.Deadline)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await core.OnTimerAsync(CancellationToken.None);
            var reply = core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!;
            if (reply.Status == KeepAliveStatus.Held)
            {
                Assert.NotNull(reply.RenewFailingSince);
                Assert.True(core.Now() + reply.ValidFor <= core.Deadline, "promise beyond D_g");
            }
        }

        Assert.Equal(LeasePhase.Lost, core.Phase);
        var whileDown = core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!;
        Assert.Equal((KeepAliveStatus.Uncertain, TimeSpan.Zero), (whileDown.Status, whileDown.ValidFor)); // never held again, not yet a definite loss

        down = false;
        await core.OnTimerAsync(CancellationToken.None); // the conditional lease-lost release, once the database is back
        await core.OnTimerAsync(CancellationToken.None);

        Assert.Equal(LeasePhase.Idle, core.Phase);
        Assert.Equal(KeepAliveStatus.Lost, core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.Status);
        Assert.Equal(KeepAliveStatus.Lost, (await core.AdoptAsync(KeepAlive(grant.Epoch), CancellationToken.None)).Status);
        var history = await _store.HistoryAsync("job", null, 100, CancellationToken.None);
        var lost = Assert.Single(history, h => h.Event is "lost" or "released" or "expired");
        Assert.Equal(("lost", grant.Epoch), (lost.Event, lost.Epoch));
    }

    [Fact]
    public async Task Moved_AnotherActivationAdopted_AnswersMovedNotLostAndDeactivates()
    {
        var (a, grant) = await GrantedAsync();
        var b = NewCore("act-2");

        Assert.Null(b.TryAnswerKeepAlive(KeepAlive(grant.Epoch)));
        var adopted = await b.AdoptAsync(KeepAlive(grant.Epoch), CancellationToken.None);
        Assert.Equal(KeepAliveStatus.Held, adopted.Status);
        Assert.Equal(1, b.DisplacingAdoptions);

        _time.Advance(Timing.RenewPeriod);
        await a.OnTimerAsync(CancellationToken.None);

        Assert.Equal(LeasePhase.Moved, a.Phase);
        Assert.Equal(KeepAliveStatus.Moved, a.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.Status);
        Assert.True(a.TakeTimerRequest() is { Deactivate: false, Due: not null }, "answers moved for a short grace first");
        await a.OnTimerAsync(CancellationToken.None);
        Assert.True(a.TakeTimerRequest() is { Deactivate: true, Due: null }, "then deactivates");
        await b.OnTimerAsync(CancellationToken.None);
        Assert.Equal(LeasePhase.Held, b.Phase);
    }

    [Fact]
    public async Task KeepAlive_DuringStallRelease_AnswersUncertainNeverAFreshPromise()
    {
        var (core, grant) = await GrantedAsync();
        _time.Advance(Timing.HolderTimeout);
        var gate = new TaskCompletionSource();
        _store.Before = (op, _) => op == "release" ? gate.Task : Task.CompletedTask;

        var tick = core.OnTimerAsync(CancellationToken.None);
        Assert.False(tick.IsCompleted);
        var during = core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!;
        gate.SetResult();
        await tick;

        Assert.Equal(KeepAliveStatus.Uncertain, during.Status);
        Assert.Equal(TimeSpan.Zero, during.ValidFor);
        Assert.Equal(KeepAliveStatus.Released, core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.Status);
    }

    [Fact]
    public async Task ForceRelease_ThroughServingActivation_StopsPromisingBeforeTheStatementAndFencesPromises()
    {
        var (core, grant) = await GrantedAsync();
        _time.Advance(TimeSpan.FromSeconds(1));
        var promise = core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!;
        KeepAliveReply? during = null;
        _store.Before = (op, _) =>
        {
            if (op == "force-release")
            {
                during = core.TryAnswerKeepAlive(KeepAlive(grant.Epoch));
            }

            return Task.CompletedTask;
        };

        var reply = await core.ForceReleaseAsync(new ForceReleaseRequest(grant.Epoch, "stuck", "operator", false), "ops", CancellationToken.None);

        Assert.Equal(ForceReleaseStatus.Released, reply.Status);
        Assert.Equal((KeepAliveStatus.Uncertain, TimeSpan.Zero), (during!.Status, during.ValidFor));
        Assert.Equal(KeepAliveStatus.Lost, core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.Status);
        Assert.Equal(_time.GetUtcNow() + promise.ValidFor + Timing.Margin, reply.FenceUntil);
    }

    [Fact]
    public async Task ClockJump_DatabaseClockStepsBetweenRenewals_IsDetectedAndDeadlineFollowsTheDatabase()
    {
        var dbClock = new FakeTimeProvider(_time.GetUtcNow());
        var store = new ControllableLeaseStore(new InMemoryLeaseStore(dbClock));
        var core = new LeaseCore("job", "act-1", store, _time, Options);
        await core.AcquireAsync(new AcquireRequest(_holder, "worker", _key, Ttl), CancellationToken.None);

        _time.Advance(Timing.RenewPeriod);
        dbClock.Advance(Timing.RenewPeriod);
        await core.OnTimerAsync(CancellationToken.None);
        Assert.Equal(0, core.ClockJumps);

        _time.Advance(Timing.RenewPeriod);
        dbClock.Advance(Timing.RenewPeriod + Timing.Margin); // a step of m: more than m/2
        var sent = core.Now();
        await core.OnTimerAsync(CancellationToken.None);

        Assert.Equal(1, core.ClockJumps);
        Assert.Equal(sent + Ttl - Timing.Margin, core.Deadline);
    }

    [Fact]
    public async Task ClockJump_StatementDelayedOnItsWayWithNoClockMoving_IsNotAJump()
    {
        var dbClock = new FakeTimeProvider(_time.GetUtcNow());
        var store = new ControllableLeaseStore(new InMemoryLeaseStore(dbClock));
        var core = new LeaseCore("job", "act-1", store, _time, Options);
        await core.AcquireAsync(new AcquireRequest(_holder, "worker", _key, Ttl), CancellationToken.None);

        // A pooler queue or a restart holds the renewal 3 s (more than m/2) before the database runs it; both
        // clocks move together, so nothing jumped. Then the next renewal runs at once.
        var delay = TimeSpan.FromSeconds(3);
        Assert.True(delay > Timing.Margin / 2);
        _time.Advance(Timing.RenewPeriod);
        dbClock.Advance(Timing.RenewPeriod);
        store.Before = (_, _) =>
        {
            _time.Advance(delay);
            dbClock.Advance(delay);
            return Task.CompletedTask;
        };
        await core.OnTimerAsync(CancellationToken.None);
        store.Before = null;
        _time.Advance(Timing.RenewPeriod);
        dbClock.Advance(Timing.RenewPeriod);
        await core.OnTimerAsync(CancellationToken.None);

        Assert.Equal(0, core.ClockJumps);
    }

    [Fact]
    public async Task RenewalFailure_IsRetriedOnALaterTurnWithinBackoffCap()
    {
        var (core, grant) = await GrantedAsync();
        _ = core.TakeTimerRequest();
        _store.Before = (_, _) => throw new TimeoutException("attempt timed out");

        _time.Advance(Timing.RenewPeriod);
        await core.OnTimerAsync(CancellationToken.None);

        var next = core.TakeTimerRequest();
        Assert.NotNull(next?.Due);
        Assert.InRange(next!.Value.Due!.Value, TimeSpan.Zero, Timing.MaxBackoff);
        Assert.Equal(LeasePhase.Held, core.Phase);
        Assert.NotNull(core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.RenewFailingSince);
    }

    [Fact]
    public async Task ForceRelease_InDoubtThenRetryHitsLockTimeout_TimerSettlesTheForceReleaseNotAStall()
    {
        var (core, grant) = await GrantedAsync();
        _store.Before = (op, _) => op == "force-release" ? throw new IOException("connection ended") : Task.CompletedTask;
        await Assert.ThrowsAsync<IOException>(() => core.ForceReleaseAsync(new ForceReleaseRequest(grant.Epoch, "stuck", "operator", false), "ops", CancellationToken.None));

        // The operator retries while an epoch guard holds the row: the lock timeout aborts the statement.
        _store.Before = null;
        _store.Override = op => op == "force-release" ? Busy : null;
        var retry = await core.ForceReleaseAsync(new ForceReleaseRequest(grant.Epoch, "stuck", "operator", false), "ops", CancellationToken.None);
        Assert.Equal(ForceReleaseStatus.Busy, retry.Status);
        Assert.Equal(KeepAliveStatus.Uncertain, core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.Status);

        // Long after ht, the timer still settles the force-release in doubt; it never sends a stall release.
        _time.Advance(Timing.HolderTimeout + Timing.RenewPeriod);
        await core.OnTimerAsync(CancellationToken.None);
        Assert.True(core.TakeTimerRequest()?.Due is not null, "a busy retry re-arms the timer");
        _store.Override = null;
        await core.OnTimerAsync(CancellationToken.None);

        var history = await _store.HistoryAsync("job", null, 100, CancellationToken.None);
        Assert.DoesNotContain(history, h => h.Reason == "stalled");
        Assert.Single(history, h => h.Event == "force-released");
        Assert.Equal(KeepAliveStatus.Lost, core.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.Status);
    }

    [Fact]
    public async Task ReAcquire_WhileAForceReleaseIsInDoubt_SettlesItBeforeAnyPromise()
    {
        var (core, grant) = await GrantedAsync();
        _store.Before = (op, _) => op == "force-release" ? throw new IOException("connection ended") : Task.CompletedTask;
        await Assert.ThrowsAsync<IOException>(() => core.ForceReleaseAsync(new ForceReleaseRequest(grant.Epoch, "stuck", "operator", false), "ops", CancellationToken.None));
        _store.Before = null;

        var again = await core.AcquireAsync(new AcquireRequest(_holder, "worker", _key, Ttl), CancellationToken.None);

        Assert.Equal(AcquireStatus.HolderSpent, again.Status);
        Assert.Single(await _store.HistoryAsync("job", null, 100, CancellationToken.None), h => h.Event == "force-released");
    }

    [Fact]
    public async Task DisplacedActivation_StallDecidedWhileStoreUnreachable_AnswersUncertainNotTerminal()
    {
        var (a, grant) = await GrantedAsync();
        var b = NewCore("act-2");
        await b.AdoptAsync(KeepAlive(grant.Epoch), CancellationToken.None);

        // A cannot reach the database; the holder talks only to B for longer than ht.
        _time.Advance(Timing.HolderTimeout + TimeSpan.FromSeconds(1));
        b.TryAnswerKeepAlive(KeepAlive(grant.Epoch));
        _store.Before = (_, _) => throw new IOException("unreachable");
        await a.OnTimerAsync(CancellationToken.None); // A decides a stall; its release fails
        _store.Before = null;

        var fromA = a.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!;

        Assert.Equal((KeepAliveStatus.Uncertain, TimeSpan.Zero), (fromA.Status, fromA.ValidFor));
        await a.OnTimerAsync(CancellationToken.None); // the stall release now finds B serving the lease
        Assert.Equal(KeepAliveStatus.Moved, a.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.Status);
        await b.OnTimerAsync(CancellationToken.None);
        Assert.Equal(KeepAliveStatus.Held, b.TryAnswerKeepAlive(KeepAlive(grant.Epoch))!.Status);
    }

    private static readonly Persistence.StoreResult Busy = new(Persistence.StoreOutcome.ForceBusy, 0, null, null, null, null, TimeSpan.Zero, null, DateTimeOffset.MinValue, null, 0, 0, "fenced write in flight");
}
