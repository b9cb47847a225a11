using CycleLock.Persistence;

namespace CycleLock.Tests.Store;

/// <summary>
/// Every lease-store behaviour (DESIGN §3). Each backend is a few-line subclass: PostgreSQL (real
/// time) and the in-memory fake (fake time) must both pass it.
/// </summary>
public abstract class LeaseStoreConformance
{
    protected static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    protected static readonly TimeSpan Short = TimeSpan.FromSeconds(1);
    protected static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A store over an empty namespace.</summary>
    protected abstract ILeaseStore CreateStore();

    /// <summary>Lets database time pass.</summary>
    protected abstract Task AdvanceAsync(TimeSpan by);

    protected static string NewName() => "lock-" + Guid.NewGuid().ToString("N")[..12];

    protected static (Guid Holder, LeaseKey Key) NewHolder() => (Guid.NewGuid(), LeaseKey.New());

    [Fact]
    public async Task Acquire_FreeLock_GrantsAndOthersAreBusy()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var (b, kb) = NewHolder();

        var grant = await store.AcquireAsync(name, a, "worker-a", ka, Long, "act-1", None);
        var busy = await store.AcquireAsync(name, b, "worker-b", kb, Long, "act-1", None);

        Assert.Equal(StoreOutcome.Granted, grant.Outcome);
        Assert.True(grant.Epoch > 0);
        Assert.InRange(grant.Remaining, Long - TimeSpan.FromSeconds(5), Long);
        Assert.Equal(StoreOutcome.BusyHeld, busy.Outcome);
        Assert.Equal("worker-a", busy.HolderLabel);
        Assert.Equal(grant.Epoch, busy.Epoch);
        Assert.True(busy.Remaining > TimeSpan.FromSeconds(20), $"busy time left {busy.Remaining}");
    }

    [Fact]
    public async Task Acquire_ExpiredLease_TakesOverOnlyAfterExpiryAndRecordsExpiredEvent()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var (b, kb) = NewHolder();
        var first = await store.AcquireAsync(name, a, "a", ka, Short, "act-1", None);
        var before = await store.AcquireAsync(name, b, "b", kb, Short, "act-1", None);
        Assert.Equal(StoreOutcome.BusyHeld, before.Outcome);

        await AdvanceAsync(Short + TimeSpan.FromMilliseconds(200));
        var after = await store.AcquireAsync(name, b, "b", kb, Short, "act-1", None);

        Assert.Equal(StoreOutcome.Granted, after.Outcome);
        Assert.True(after.Epoch > first.Epoch);
        var history = await store.HistoryAsync(name, null, 100, None);
        var expired = Assert.Single(history, h => h.Event == "expired");
        Assert.Equal(first.Epoch, expired.Epoch);
        Assert.Equal(a, expired.HolderId);
        Assert.InRange(expired.At, first.DbNow + Short - TimeSpan.FromMilliseconds(100), first.DbNow + Short + TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Acquire_SameHolderAndKey_ReturnsSameEpochAndTrueRemainingTime()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var first = await store.AcquireAsync(name, a, "a", ka, TimeSpan.FromSeconds(10), "act-1", None);
        await AdvanceAsync(TimeSpan.FromMilliseconds(500));

        var again = await store.AcquireAsync(name, a, "a", ka, TimeSpan.FromSeconds(10), "act-1", None);

        Assert.Equal(StoreOutcome.Reacquired, again.Outcome);
        Assert.Equal(first.Epoch, again.Epoch);
        Assert.InRange(again.Remaining, TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(9.52)); // timer and clock granularity: the delay may end a fraction of a millisecond early by the database clock
        Assert.Single(await store.HistoryAsync(name, null, 100, None), h => h.Event == "granted");
    }

    [Fact]
    public async Task Acquire_SameHolderWithOtherTtl_IsTtlMismatch()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);

        var again = await store.AcquireAsync(name, a, "a", ka, Long + TimeSpan.FromSeconds(1), "act-1", None);

        Assert.Equal(StoreOutcome.TtlMismatch, again.Outcome);
        Assert.Equal(Long, again.Ttl);
    }

    [Fact]
    public async Task Acquire_ReleasedHolderId_IsNeverGrantedAgain()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);
        Assert.Equal(StoreOutcome.Released, (await store.ReleaseAsync(name, a, ka, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None)).Outcome);

        var again = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);

        Assert.Equal(StoreOutcome.Spent, again.Outcome);
        Assert.Equal(LockState.Free, (await store.GetAsync(name, None)).State);
    }

    [Fact]
    public async Task RenewAndRelease_WrongHolderKeyEpochOrActivation_MatchNothingAndReportCurrentRow()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);
        var before = await store.GetAsync(name, None);

        var wrongHolder = await store.RenewAsync(name, Guid.NewGuid(), grant.Epoch, "act-1", Long, None);
        var wrongEpoch = await store.RenewAsync(name, a, grant.Epoch + 1000, "act-1", Long, None);
        var wrongActivation = await store.RenewAsync(name, a, grant.Epoch, "act-2", Long, None);
        var wrongKey = await store.ReleaseAsync(name, a, LeaseKey.New(), grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);
        var wrongReleaseHolder = await store.ReleaseAsync(name, Guid.NewGuid(), ka, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);
        var wrongReleaseActivation = await store.ReleaseAsync(name, a, ka, grant.Epoch, "act-2", ReleaseReason.Completed, true, 0, None);

        foreach (var (what, result, expected) in new[]
        {
            ("renew, wrong holder", wrongHolder, StoreOutcome.Lost),
            ("renew, wrong epoch", wrongEpoch, StoreOutcome.Lost),
            ("renew, other activation", wrongActivation, StoreOutcome.Moved),
            ("release, wrong key", wrongKey, StoreOutcome.Lost),
            ("release, wrong holder", wrongReleaseHolder, StoreOutcome.Lost),
            ("release, other activation", wrongReleaseActivation, StoreOutcome.Moved),
        })
        {
            Assert.True(expected == result.Outcome, $"{what}: expected {expected}, got {result.Outcome}");
            Assert.True(result.HolderId == a && result.Epoch == grant.Epoch && result.Activation == "act-1", $"{what}: reported row {result.HolderId}/{result.Epoch}/{result.Activation}");
        }

        var after = await store.GetAsync(name, None);
        Assert.Equal(before with { TimeLeft = after.TimeLeft }, after);
        Assert.Equal(StoreOutcome.Renewed, (await store.RenewAsync(name, a, grant.Epoch, "act-1", Long, None)).Outcome);
    }

    [Fact]
    public async Task Renew_ExpiredLease_IsNeverRevived()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Short, "act-1", None);
        await AdvanceAsync(Short + TimeSpan.FromMilliseconds(200));

        var renew = await store.RenewAsync(name, a, grant.Epoch, "act-1", Short, None);
        var adopt = await store.AdoptAsync(name, a, ka, grant.Epoch, "act-2", None);

        Assert.Equal(StoreOutcome.Lost, renew.Outcome);
        Assert.Equal(StoreOutcome.Lost, adopt.Outcome);
        var info = await store.GetAsync(name, None);
        Assert.True(info.ExpiresAt <= grant.DbNow + Short + TimeSpan.FromMilliseconds(50), $"expires_at moved to {info.ExpiresAt}");
    }

    [Fact]
    public async Task Release_Retried_IsAlreadyReleasedNotLost()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);

        var first = await store.ReleaseAsync(name, a, ka, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);
        var retry = await store.ReleaseAsync(name, a, ka, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);
        var retryElsewhere = await store.ReleaseAsync(name, a, ka, grant.Epoch, "act-2", ReleaseReason.Completed, true, 0, None);

        Assert.Equal(StoreOutcome.Released, first.Outcome);
        Assert.Equal(StoreOutcome.AlreadyReleased, retry.Outcome);
        Assert.Equal("completed", retry.Reason);
        Assert.Equal(StoreOutcome.AlreadyReleased, retryElsewhere.Outcome);
    }

    [Fact]
    public async Task Release_FailedRetried_BurnsExactlyOneAttempt()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);

        await store.ReleaseAsync(name, a, ka, grant.Epoch, "act-1", ReleaseReason.Failed, true, 0, None);
        var retry = await store.ReleaseAsync(name, a, ka, grant.Epoch, "act-1", ReleaseReason.Failed, true, 0, None);

        Assert.Equal(StoreOutcome.AlreadyReleased, retry.Outcome);
        var info = await store.GetAsync(name, None);
        Assert.Equal(1, info.Attempts);
        Assert.Equal(0, info.Stalls);
        Assert.Equal("failed", info.LastReleaseReason);
    }

    [Fact]
    public async Task Release_CompletedAfterFailures_ResetsCounters()
    {
        var store = CreateStore();
        var name = NewName();
        for (var i = 0; i < 2; i++)
        {
            var (h, k) = NewHolder();
            var g = await store.AcquireAsync(name, h, "a", k, Long, "act-1", None);
            await store.ReleaseAsync(name, h, k, g.Epoch, "act-1", i == 0 ? ReleaseReason.Failed : ReleaseReason.Stalled, i == 0, 0, None);
        }

        Assert.Equal((1, 1), ((await store.GetAsync(name, None)).Attempts, (await store.GetAsync(name, None)).Stalls));
        var (c, kc) = NewHolder();
        var grant = await store.AcquireAsync(name, c, "c", kc, Long, "act-1", None);
        await store.ReleaseAsync(name, c, kc, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);

        var info = await store.GetAsync(name, None);
        Assert.Equal((0, 0), (info.Attempts, info.Stalls));
    }

    [Fact]
    public async Task Release_StallsReachMax_DeadUntilReset()
    {
        var store = CreateStore();
        var name = NewName();
        for (var i = 0; i < 2; i++)
        {
            var (h, k) = NewHolder();
            var g = await store.AcquireAsync(name, h, "a", k, Long, "act-1", None);
            await store.ReleaseAsync(name, h, k, g.Epoch, "act-1", ReleaseReason.Stalled, false, 2, None);
        }

        var (c, kc) = NewHolder();
        var dead = await store.AcquireAsync(name, c, "c", kc, Long, "act-1", None);
        var reset = await store.ResetAsync(name, "operator", "ops", None);
        var again = await store.ResetAsync(name, "operator", "ops", None);
        var granted = await store.AcquireAsync(name, c, "c", kc, Long, "act-1", None);

        Assert.Equal(StoreOutcome.Dead, dead.Outcome);
        Assert.Equal(2, dead.Stalls);
        Assert.Equal(StoreOutcome.Reset, reset.Outcome);
        Assert.Equal(StoreOutcome.Nothing, again.Outcome);
        Assert.Equal(StoreOutcome.Granted, granted.Outcome);
        Assert.Contains(await store.HistoryAsync(name, null, 100, None), h => h.Event == "reset" && h.By == "operator");
    }

    [Fact]
    public async Task Adopt_NewActivation_ReturnsPreviousActivationAndRaisesFence()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);
        var before = await store.GetAsync(name, None);

        var adopted = await store.AdoptAsync(name, a, ka, grant.Epoch, "act-2", None);
        var same = await store.AdoptAsync(name, a, ka, grant.Epoch, "act-2", None);
        var oldRenew = await store.RenewAsync(name, a, grant.Epoch, "act-1", Long, None);

        Assert.Equal(StoreOutcome.Adopted, adopted.Outcome);
        Assert.Equal("act-1", adopted.PreviousActivation);
        Assert.Equal("act-2", adopted.Activation);
        Assert.Equal(before.ExpiresAt, adopted.FenceUntil);
        Assert.Equal(grant.Epoch, adopted.Epoch);
        Assert.Equal("act-2", same.PreviousActivation);
        Assert.Equal(StoreOutcome.Moved, oldRenew.Outcome);
        Assert.Equal("act-2", oldRenew.Activation);
        var adoptions = (await store.HistoryAsync(name, null, 100, None)).Where(h => h.Event == "adopted").ToList();
        var entry = Assert.Single(adoptions);
        Assert.Equal(("act-2", "act-1"), (entry.Activation, entry.PreviousActivation));
    }

    [Fact]
    public async Task Adopt_WrongKey_IsLostAndChangesNothing()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);

        var adopted = await store.AdoptAsync(name, a, LeaseKey.New(), grant.Epoch, "act-2", None);

        Assert.Equal(StoreOutcome.Lost, adopted.Outcome);
        Assert.Equal("act-1", (await store.GetAsync(name, None)).Activation);
    }

    [Fact]
    public async Task Acquire_AfterAdoptAndStall_WaitsForFence()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var (b, kb) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Short, "act-1", None);
        await store.AdoptAsync(name, a, ka, grant.Epoch, "act-2", None);
        Assert.Equal(StoreOutcome.Released, (await store.ReleaseAsync(name, a, ka, grant.Epoch, "act-2", ReleaseReason.Stalled, false, 0, None)).Outcome);

        var fenced = await store.AcquireAsync(name, b, "b", kb, Long, "act-1", None);
        await AdvanceAsync(Short + TimeSpan.FromMilliseconds(200));
        var granted = await store.AcquireAsync(name, b, "b", kb, Long, "act-1", None);

        Assert.Equal(StoreOutcome.BusyFenced, fenced.Outcome);
        Assert.True(fenced.Remaining > TimeSpan.Zero);
        Assert.Equal(StoreOutcome.Granted, granted.Outcome);
    }

    [Fact]
    public async Task Release_ByHolder_LowersFenceSoTheNextGrantIsImmediate()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var (b, kb) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);
        await store.AdoptAsync(name, a, ka, grant.Epoch, "act-2", None);
        await store.ReleaseAsync(name, a, ka, grant.Epoch, "act-2", ReleaseReason.Completed, true, 0, None);

        var next = await store.AcquireAsync(name, b, "b", kb, Long, "act-1", None);

        Assert.Equal(StoreOutcome.Granted, next.Outcome);
    }

    [Fact]
    public async Task ForceRelease_ExpectedEpoch_BumpsEpochFencesAndIsIdempotent()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var (b, kb) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Short, "act-1", None);

        var forced = await store.ForceReleaseAsync(name, grant.Epoch, "stuck job", "operator", "ops", false, "act-1", TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(200), None);
        var retry = await store.ForceReleaseAsync(name, grant.Epoch, "stuck job", "operator", "ops", false, "act-1", TimeSpan.Zero, TimeSpan.Zero, None);
        var wrong = await store.ForceReleaseAsync(name, grant.Epoch + 1000, "stuck job", "operator", "ops", false, "act-1", TimeSpan.Zero, TimeSpan.Zero, None);
        var oldRenew = await store.RenewAsync(name, a, grant.Epoch, "act-1", Short, None);
        var fenced = await store.AcquireAsync(name, b, "b", kb, Long, "act-1", None);

        Assert.Equal(StoreOutcome.ForceReleased, forced.Outcome);
        Assert.True(forced.Epoch > grant.Epoch, "epoch bumped");
        Assert.InRange(forced.FenceUntil!.Value, forced.DbNow + TimeSpan.FromMilliseconds(400), forced.DbNow + TimeSpan.FromMilliseconds(600));
        Assert.Equal(StoreOutcome.AlreadyReleased, retry.Outcome);
        Assert.Equal(StoreOutcome.WrongEpoch, wrong.Outcome);
        Assert.Equal(StoreOutcome.Ended, oldRenew.Outcome);
        Assert.Equal(StoreOutcome.BusyFenced, fenced.Outcome);
        await AdvanceAsync(TimeSpan.FromMilliseconds(700));
        Assert.Equal(StoreOutcome.Granted, (await store.AcquireAsync(name, b, "b", kb, Long, "act-1", None)).Outcome);
        Assert.Equal(StoreOutcome.Spent, (await store.AcquireAsync(name, a, "a", ka, Short, "act-1", None)).Outcome);
    }

    [Fact]
    public async Task ForceRelease_ThroughNonServingActivation_FencesUntilOldExpiry()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);
        var before = await store.GetAsync(name, None);

        var forced = await store.ForceReleaseAsync(name, grant.Epoch, "stuck", "operator", "ops", false, "act-9", TimeSpan.Zero, TimeSpan.Zero, None);

        Assert.Equal(StoreOutcome.ForceReleased, forced.Outcome);
        Assert.Equal(before.ExpiresAt, forced.FenceUntil);
    }

    [Fact]
    public async Task ForceRelease_SkipDelay_GrantsAtOnceAndHistoryRecordsIt()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var (b, kb) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);

        await store.ForceReleaseAsync(name, grant.Epoch, "holder host is gone", "operator", "ops", true, "act-9", TimeSpan.Zero, TimeSpan.Zero, None);
        var next = await store.AcquireAsync(name, b, "b", kb, Long, "act-1", None);

        Assert.Equal(StoreOutcome.Granted, next.Outcome);
        var end = Assert.Single(await store.HistoryAsync(name, null, 100, None), h => h.Event == "force-released");
        Assert.Equal(("operator", "holder host is gone"), (end.By, end.Reason));
    }

    [Fact]
    public async Task Acquire_FiftyConcurrentAcquirers_ExactlyOneWinner()
    {
        var store = CreateStore();
        var name = NewName();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() =>
        {
            var (h, k) = NewHolder();
            return store.AcquireAsync(name, h, $"w{i}", k, Long, "act-1", None);
        })));

        Assert.Single(results, r => r.Outcome == StoreOutcome.Granted);
        Assert.All(results.Where(r => r.Outcome != StoreOutcome.Granted), r => Assert.True(r.Outcome is StoreOutcome.BusyHeld or StoreOutcome.BusyGuard, r.Outcome.ToString()));
    }

    [Fact]
    public async Task Acquire_ThousandGrants_EpochsStrictlyIncrease()
    {
        var store = CreateStore();
        var name = NewName();
        long previous = 0;
        for (var i = 0; i < 1000; i++)
        {
            var (h, k) = NewHolder();
            var grant = await store.AcquireAsync(name, h, "w", k, Long, "act-1", None);
            Assert.True(grant.Outcome == StoreOutcome.Granted, $"grant {i}: {grant.Outcome}");
            Assert.True(grant.Epoch > previous, $"grant {i}: epoch {grant.Epoch} after {previous}");
            previous = grant.Epoch;
            await store.ReleaseAsync(name, h, k, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);
        }
    }

    [Fact]
    public async Task History_EveryEpoch_HasExactlyOneEndEvent()
    {
        var store = CreateStore();
        var name = NewName();
        var epochs = new List<long>();
        var (a, ka) = NewHolder();
        epochs.Add((await store.AcquireAsync(name, a, "a", ka, Short, "act-1", None)).Epoch);
        await AdvanceAsync(Short + TimeSpan.FromMilliseconds(200));
        var (b, kb) = NewHolder();
        epochs.Add((await store.AcquireAsync(name, b, "b", kb, Long, "act-1", None)).Epoch); // takeover: expired
        await store.ReleaseAsync(name, b, kb, epochs[^1], "act-1", ReleaseReason.Failed, true, 0, None);
        await store.ReleaseAsync(name, b, kb, epochs[^1], "act-1", ReleaseReason.Failed, true, 0, None);
        var (c, kc) = NewHolder();
        epochs.Add((await store.AcquireAsync(name, c, "c", kc, Long, "act-1", None)).Epoch);
        await store.ForceReleaseAsync(name, epochs[^1], "r", "op", "ops", true, "act-1", TimeSpan.Zero, TimeSpan.Zero, None);
        await store.ForceReleaseAsync(name, epochs[^1], "r", "op", "ops", true, "act-1", TimeSpan.Zero, TimeSpan.Zero, None);
        var (d, kd) = NewHolder();
        epochs.Add((await store.AcquireAsync(name, d, "d", kd, Long, "act-1", None)).Epoch);
        await store.ReleaseAsync(name, d, kd, epochs[^1], "act-1", ReleaseReason.LeaseLost, false, 0, None);

        var history = await store.HistoryAsync(name, null, 1000, None);
        var ends = history.Where(h => h.Event is "released" or "lost" or "expired" or "force-released").ToList();
        Assert.Equal(epochs, ends.Select(e => e.Epoch).Order());
        Assert.Equal(["expired", "released", "force-released", "lost"], ends.OrderBy(e => e.Epoch).Select(e => e.Event));
        Assert.Equal(epochs, history.Where(h => h.Event == "granted").Select(h => h.Epoch).Order());
    }

    [Fact]
    public async Task Abandon_BeforeItsAcquire_SpendsTheHolderId()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();

        var abandoned = await store.AbandonAsync(name, a, ka, None);
        var late = await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);

        Assert.Equal(StoreOutcome.Nothing, abandoned.Outcome);
        Assert.Equal(StoreOutcome.Spent, late.Outcome);
        Assert.Equal(LockState.Free, (await store.GetAsync(name, None)).State);
    }

    [Fact]
    public async Task Abandon_AfterGrant_ReleasesIt()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var (b, kb) = NewHolder();
        await store.AcquireAsync(name, a, "a", ka, Long, "act-1", None);

        var abandoned = await store.AbandonAsync(name, a, ka, None);
        var next = await store.AcquireAsync(name, b, "b", kb, Long, "act-1", None);

        Assert.Equal(StoreOutcome.Abandoned, abandoned.Outcome);
        Assert.Equal(StoreOutcome.Granted, next.Outcome);
    }

    [Fact]
    public async Task Renew_Held_ExtendsFromDatabaseNow()
    {
        var store = CreateStore();
        var name = NewName();
        var (a, ka) = NewHolder();
        var grant = await store.AcquireAsync(name, a, "a", ka, TimeSpan.FromSeconds(5), "act-1", None);
        await AdvanceAsync(TimeSpan.FromMilliseconds(300));

        var renewed = await store.RenewAsync(name, a, grant.Epoch, "act-1", TimeSpan.FromSeconds(5), None);

        Assert.Equal(StoreOutcome.Renewed, renewed.Outcome);
        Assert.Equal(grant.Epoch, renewed.Epoch);
        Assert.InRange(renewed.Remaining, TimeSpan.FromSeconds(4.5), TimeSpan.FromSeconds(5));
        Assert.True(renewed.DbNow >= grant.DbNow + TimeSpan.FromMilliseconds(250));
    }

    [Fact]
    public async Task List_PagesInNameOrder()
    {
        var store = CreateStore();
        var prefix = NewName();
        foreach (var suffix in new[] { "c", "a", "b" })
        {
            var (h, k) = NewHolder();
            await store.AcquireAsync($"{prefix}/{suffix}", h, suffix, k, Long, "act-1", None);
        }

        var first = await store.ListAsync(null, 2, None);
        var second = await store.ListAsync(first[^1].Name, 2, None);

        Assert.Equal([$"{prefix}/a", $"{prefix}/b"], first.Select(l => l.Name));
        Assert.Equal([$"{prefix}/c"], second.Select(l => l.Name));
        Assert.All(first.Concat(second), l => Assert.Equal(LockState.Held, l.State));
    }
}
