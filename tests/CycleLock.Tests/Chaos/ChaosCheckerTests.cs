using CycleLock.Chaos.Checking;

namespace CycleLock.Tests.Chaos;

/// <summary>
/// The chaos-run checker on hand-built evidence: a clean history passes, and each rule catches exactly the one thing
/// broken in it. Times are seconds after <see cref="T0"/> on the database clock.
/// </summary>
public sealed class ChaosCheckerTests
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan DatabaseBudget = TimeSpan.FromSeconds(46.75); // TTL − P − m at TTL 60 s
    private static readonly TimeSpan SiloBudget = TimeSpan.FromSeconds(16.375);    // ht − m_w − keep-alive interval − kt

    /// <summary>A holder id no grant was made to.</summary>
    private static readonly Guid Stranger = new("0badc0de-0000-4000-8000-000000000000");

    private static readonly string[] RequiredKinds =
    [
        "pg-terminate", "pgbouncer-restart", "pg-restart-fast", "pg-restart-immediate",
        "silo-kill", "worker-stop", "worker-stop-in-guard", "worker-blackhole",
    ];

    /// <summary>The clean run: 3 locks, 11 epochs from one sequence (7 was the force-release's bump).</summary>
    private static readonly GrantSpec[] CleanGrants =
    [
        new("job-a", 1, Worker: 1, Start: 0, End: 10, "released", BeliefEnd: 9.9),
        new("job-b", 2, Worker: 2, Start: 1, End: 11, "released", BeliefEnd: 10.9),
        new("job-c", 3, Worker: 3, Start: 2, End: 12, "released", BeliefEnd: 11.9),
        new("job-a", 4, Worker: 2, Start: 12.5, End: 22, "released", BeliefEnd: 21.9), // one write commits at 22.3, after this release
        new("job-a", 5, Worker: 3, Start: 24, End: 40, "expired", BeliefEnd: 33),      // worker 3 stopped 30–40; epoch 9's takeover commits the expiry
        new("job-b", 6, Worker: 4, Start: 26, End: 36, "force-released", BeliefEnd: 37), // ValidUntil outlives the force-release, not the next grant
        new("job-b", 8, Worker: 1, Start: 38, End: 48, "released", BeliefEnd: 47.9),
        new("job-a", 9, Worker: 1, Start: 40, End: null, null, BeliefEnd: 229),
        new("job-c", 10, Worker: 4, Start: 50, End: 62, "lost", BeliefEnd: 61),        // worker 4 stopped inside its guard 60–70
        new("job-c", 11, Worker: 2, Start: 80, End: 98, "lost", BeliefEnd: 96),        // worker 2 blackholed 90–100
        new("job-b", 12, Worker: 3, Start: 120, End: null, null, BeliefEnd: 229),
    ];

    [Fact]
    public void Check_CleanHistory_Passes()
    {
        var report = new ChaosChecker().Check(Clean());

        Assert.True(report.Passed, $"expected the clean history to pass:\n{report.Format()}");
        Assert.Equal(CleanGrants.Length, report.Grants);
        Assert.Equal(0, report.UncertainOverlaps);
        Assert.Equal(RequiredKinds.Order(StringComparer.Ordinal), report.FaultsByKind.Keys);
        Assert.All(report.FaultsByKind, f => Assert.Equal(new FaultKindSummary(1, 1), f.Value));
        Assert.Equal(new Dictionary<string, int> { ["expired"] = 1, ["lost"] = 2 }, report.LossesByCause);
        Assert.Contains("chaos check PASSED", report.Format(), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_BeliefOverlapsNextGrantByTwoSeconds_IsBeliefOverlapsOtherGrant()
    {
        var input = Clean();
        input = input with { Beliefs = Replace(input.Beliefs, b => b.Lock == "job-a" && b.Epoch == 4, b => b with { EndWorkerUtc = WorkerTime(2, 26) }) };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.BeliefOverlapsOtherGrant, report);
        Assert.Equal("job-a", violation.Lock);
        Assert.Contains("epoch 5", violation.Detail, StringComparison.Ordinal);
        Assert.Contains("worker 2", violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_BeliefOverlapsNextGrantWithinUncertainty_CountsUncertainNotViolation()
    {
        // 5 ms past grant 5; the uncertainty there is 2 ms (half the round trip) + 10 ms tolerance + 0.1 ms drift.
        var input = Clean();
        input = input with { Beliefs = Replace(input.Beliefs, b => b.Lock == "job-a" && b.Epoch == 4, b => b with { EndWorkerUtc = WorkerTime(2, 24.005) }) };

        var report = new ChaosChecker().Check(input);

        Assert.True(report.Passed, $"expected an overlap within the uncertainty not to be a violation:\n{report.Format()}");
        Assert.Equal(1, report.UncertainOverlaps);
    }

    [Fact]
    public void Check_WorkerClockThreeSecondsAhead_IsCompensatedBySamples()
    {
        var input = Clean(worker2AheadMs: 3000);
        var belief = input.Beliefs.Single(b => b.Lock == "job-a" && b.Epoch == 4);
        Assert.True(belief.EndWorkerUtc > At(24), "precondition: uncorrected, worker 2's belief of epoch 4 runs past grant 5");

        var report = new ChaosChecker().Check(input);

        Assert.True(report.Passed, $"expected a +3 s worker clock to be compensated by its samples:\n{report.Format()}");
        Assert.Equal(0, report.UncertainOverlaps);
    }

    [Fact]
    public void Check_WorkerWithoutClockSamples_IsNoClockEvidence()
    {
        var input = Clean();
        input = input with { Samples = [.. input.Samples.Where(s => s.Worker != 4)] };

        var report = new ChaosChecker().Check(input);

        AssertOnly(ViolationKind.NoClockEvidence, report);
        Assert.Equal(["job-b", "job-c"], report.Violations.Select(v => v.Lock));
        Assert.All(report.Violations, v => Assert.Contains("worker 4", v.Detail, StringComparison.Ordinal));
    }

    [Fact]
    public void Check_BeliefOfAnotherHolder_IsBeliefWithoutGrant()
    {
        var input = Clean();
        input = input with { Beliefs = Replace(input.Beliefs, b => b.Lock == "job-b" && b.Epoch == 8, b => b with { Holder = Stranger }) };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.BeliefWithoutGrant, report);
        Assert.Equal("job-b", violation.Lock);
        Assert.Contains(Stranger.ToString(), violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_EpochFiveCommittedBeforeEpochFour_IsEpochWentBackwards()
    {
        // Swap the commit order of epoch 4's last write and epoch 5's first; their commit times stay inside their epochs.
        var input = Clean();
        var four = input.Writes.Single(w => w.Lock == "job-a" && w.Epoch == 4 && w.Sequence == 4);
        var five = input.Writes.Single(w => w.Lock == "job-a" && w.Epoch == 5 && w.Sequence == 1);
        var writes = Replace(input.Writes, w => w == four, w => w with { CommitOrder = five.CommitOrder });
        input = input with { Writes = Replace(writes, w => w == five, w => w with { CommitOrder = four.CommitOrder }) };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.EpochWentBackwards, report);
        Assert.Single(report.Violations);
        Assert.Contains("of epoch 4", violation.Detail, StringComparison.Ordinal);
        Assert.Contains("of epoch 5", violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_WriteOneMillisecondAfterNextGrant_IsWriteAfterNextGrant()
    {
        var report = new ChaosChecker().Check(WithExtraWrite(Write("job-a", 4, 5, 24.001)));

        var violation = AssertOnly(ViolationKind.WriteAfterNextGrant, report);
        Assert.Contains("the grant of epoch 5", violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_WriteAfterItsForceRelease_IsWriteAfterNextGrant()
    {
        // Force-released at 36, next grant at 38: only the force-release bounds this write.
        var report = new ChaosChecker().Check(WithExtraWrite(Write("job-b", 6, 4, 36.5)));

        var violation = AssertOnly(ViolationKind.WriteAfterNextGrant, report);
        Assert.Contains("the force-release of epoch 6", violation.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("the grant of", violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_WriteAfterItsPlainRelease_Passes()
    {
        // Released at 10, next grant at 12.5: releases do not wait for guards (DESIGN §8).
        var report = new ChaosChecker().Check(WithExtraWrite(Write("job-a", 1, 4, 11)));

        Assert.True(report.Passed, $"expected a write after its own epoch's plain release to pass:\n{report.Format()}");
    }

    [Fact]
    public void Check_WriteByAnotherHolderOfTheEpoch_IsWriteWithoutGrant()
    {
        var input = Clean();
        input = input with { Writes = Replace(input.Writes, w => w.Lock == "job-c" && w.Epoch == 10 && w.Sequence == 2, w => w with { Holder = Stranger }) };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.WriteWithoutGrant, report);
        Assert.Contains(Stranger.ToString(), violation.Detail, StringComparison.Ordinal);
        Assert.Contains($"epoch 10 was granted to {Holder("job-c", 10)}", violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_LossOnLiveWorkerWhileFaultsInBudget_IsLeaseLostWithinBudget()
    {
        // 175 s: inside pg-restart-fast (8 s of a 46.75 s budget); the worker-side faults ended more than 60 s before.
        var input = Clean();
        input = input with { Losses = [.. input.Losses, new LossRecord("job-a", 9, Holder("job-a", 9), 1, At(175), "lease-lost")] };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.LeaseLostWithinBudget, report);
        Assert.Equal("job-a", violation.Lock);
        Assert.Contains("pg-restart-fast", violation.Detail, StringComparison.Ordinal);
        Assert.Equal(1, report.LossesByCause["lease-lost"]);
    }

    [Fact]
    public void Check_TargetedWorkerLosesALeaseGrantedAfterItsFaultEnded_IsLeaseLostWithinBudget()
    {
        // Worker 2 was blackholed 90–100 s; a lease it was granted at 105 s and lost at 110 s is not the fault's doing.
        var input = Clean();
        var holder = Holder("job-d", 13);
        input = input with
        {
            Grants = [.. input.Grants, new GrantRecord("job-d", 13, holder, At(105), At(110), "lost")],
            Losses = [.. input.Losses, new LossRecord("job-d", 13, holder, 2, At(110), "lost")],
        };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.LeaseLostWithinBudget, report);
        Assert.Equal("job-d", violation.Lock);
    }

    [Fact]
    public void Check_FaultTheHarnessFoundDidNothing_IsFaultsDidNotBite()
    {
        var input = Clean();
        input = input with { Bite = input.Bite with { Unbitten = ["worker-stop on worker-1: its lease job-a epoch 9 was not lost"] } };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.FaultsDidNotBite, report);
        Assert.Equal("worker-stop on worker-1: its lease job-a epoch 9 was not lost", violation.Detail);
    }

    [Fact]
    public void Check_LossAfterFaultOverItsBudget_IsExcused()
    {
        var input = Clean();
        input = input with
        {
            Faults = [.. input.Faults, new FaultRecord("pg-restart-immediate", At(230), At(290), null, DatabaseBudget)],
            Losses = [.. input.Losses, new LossRecord("job-a", 9, Holder("job-a", 9), 1, At(300), "lease-lost")],
        };

        var report = new ChaosChecker().Check(input);

        Assert.True(report.Passed, $"expected a loss 10 s after a 60 s database outage (budget 46.75 s) to be excused:\n{report.Format()}");
        Assert.Equal(new FaultKindSummary(2, 1), report.FaultsByKind["pg-restart-immediate"]);
    }

    [Fact]
    public void Check_RequiredKindOnlyOverBudget_IsFaultKindNotExercisedInBudget()
    {
        var input = Clean();
        input = input with { Faults = Replace(input.Faults, f => f.Kind == "pg-restart-immediate", f => f with { EndDbUtc = f.StartDbUtc + TimeSpan.FromSeconds(60) }) };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.FaultKindNotExercisedInBudget, report);
        Assert.Equal("", violation.Lock);
        Assert.Contains("pg-restart-immediate", violation.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(BiteEvidence.StaleWritesRejected), "no stale write was rejected by the guard")]
    [InlineData(nameof(BiteEvidence.TakeoversAfterStop), "no takeover after a SIGSTOP")]
    [InlineData(nameof(BiteEvidence.MovedAnswers), "no moved answer")]
    [InlineData(nameof(BiteEvidence.RenewalReconnects), "no renewal needed a reconnect")]
    public void Check_BiteCounterZero_IsFaultsDidNotBite(string counter, string expectedDetail)
    {
        var input = Clean();
        var bite = counter switch
        {
            nameof(BiteEvidence.StaleWritesRejected) => input.Bite with { StaleWritesRejected = 0 },
            nameof(BiteEvidence.TakeoversAfterStop) => input.Bite with { TakeoversAfterStop = 0 },
            nameof(BiteEvidence.MovedAnswers) => input.Bite with { MovedAnswers = 0 },
            _ => input.Bite with { RenewalReconnects = 0 },
        };

        var report = new ChaosChecker().Check(input with { Bite = bite });

        var violation = AssertOnly(ViolationKind.FaultsDidNotBite, report);
        Assert.Single(report.Violations);
        Assert.Equal(expectedDetail, violation.Detail);
    }

    [Fact]
    public void Check_EpochGrantedToTwoHolders_IsDuplicateEpoch()
    {
        var input = Clean();
        input = input with { Grants = [.. input.Grants, new GrantRecord("job-c", 3, Stranger, At(2), At(12), "released")] };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.DuplicateEpoch, report);
        Assert.Equal("job-c", violation.Lock);
        Assert.Contains(Stranger.ToString(), violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_GrantCommittedAtPreviousRelease_IsGrantsOverlap()
    {
        // A release and the next grant at the same commit instant: "not after" is an overlap (only a takeover's
        // expired event, written in the grant's own transaction, may share its timestamp — the clean job-a 5 → 9).
        var input = Clean();
        input = input with { Grants = Replace(input.Grants, g => g.Lock == "job-a" && g.Epoch == 1, g => g with { EndCommittedAt = At(12.5) }) };

        var report = new ChaosChecker().Check(input);

        var violation = AssertOnly(ViolationKind.GrantsOverlap, report);
        Assert.Contains("epoch 4", violation.Detail, StringComparison.Ordinal);
        Assert.Contains("epoch 1", violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Format_SeveralViolations_NamesEveryKindInLockThenKindOrder()
    {
        var input = WithExtraWrite(Write("job-a", 4, 5, 24.001));
        input = input with
        {
            Grants = [.. Replace(input.Grants, g => g.Lock == "job-a" && g.Epoch == 1, g => g with { EndCommittedAt = At(12.5) }),
                new GrantRecord("job-c", 3, Stranger, At(2), At(12), "released")],
            Bite = input.Bite with { MovedAnswers = 0 },
        };

        var report = new ChaosChecker().Check(input);
        var text = report.Format();

        Assert.Equal(
            [ViolationKind.FaultsDidNotBite, ViolationKind.WriteAfterNextGrant, ViolationKind.GrantsOverlap, ViolationKind.DuplicateEpoch],
            report.Violations.Select(v => v.Kind));
        Assert.Contains("chaos check FAILED: 4 violation(s)", text, StringComparison.Ordinal);
        Assert.All(report.Violations, v => Assert.Contains(v.Kind.ToString(), text, StringComparison.Ordinal));
        Assert.All(report.Violations, v => Assert.Contains(v.Detail, text, StringComparison.Ordinal));
    }

    [Fact]
    public void Check_InputsInReverseOrder_GiveTheSameReport()
    {
        var input = WithExtraWrite(Write("job-b", 6, 4, 36.5)) with { Bite = new BiteEvidence(0, 1, 0, 1) };
        var reversed = input with
        {
            Grants = [.. input.Grants.Reverse()],
            Writes = [.. input.Writes.Reverse()],
            Samples = [.. input.Samples.Reverse()],
            Beliefs = [.. input.Beliefs.Reverse()],
            Faults = [.. input.Faults.Reverse()],
            Losses = [.. input.Losses.Reverse()],
        };

        var expected = new ChaosChecker().Check(input);
        var actual = new ChaosChecker().Check(reversed);

        Assert.Equal(3, expected.Violations.Count);
        Assert.Equal(expected.Violations, actual.Violations);
        Assert.Equal(expected.Format(), actual.Format());
    }

    private static DateTimeOffset At(double seconds) => T0 + TimeSpan.FromSeconds(seconds);

    private static Guid Holder(string lockName, long epoch) => new((int)epoch, 0, 0, [0, 0, 0, 0, 0, 0, 0, (byte)lockName[^1]]);

    /// <summary>How far each worker's clock runs ahead of the database's (ms), and its sample round trip (ms).</summary>
    private static (double AheadMs, double RoundTripMs) ClockOf(int worker, double worker2AheadMs) => worker switch
    {
        1 => (50, 3),
        2 => (worker2AheadMs, 4),
        3 => (30, 5),
        _ => (-20, 6),
    };

    /// <summary>A database instant as <paramref name="worker"/>'s clock reads it in the clean history.</summary>
    private static DateTimeOffset WorkerTime(int worker, double seconds) =>
        At(seconds) + TimeSpan.FromMilliseconds(ClockOf(worker, -50).AheadMs);

    private static ProtectedWrite Write(string lockName, long epoch, long sequence, double seconds) =>
        new(lockName, epoch, Holder(lockName, epoch), sequence, At(seconds), 0);

    /// <summary>The clean history: every rule holds, every required fault ran in budget, every counter bit.</summary>
    private static CheckInput Clean(double worker2AheadMs = -50)
    {
        var grants = CleanGrants.Select(g => new GrantRecord(
            g.Lock, g.Epoch, Holder(g.Lock, g.Epoch), At(g.Start), g.End is { } end ? At(end) : null, g.EndKind)).ToList();

        var writes = CleanGrants
            .SelectMany(g => Enumerable.Range(1, 3).Select(i => Write(g.Lock, g.Epoch, i, g.Start + i)))
            .Append(Write("job-a", 4, 4, 22.3))
            .ToList();

        var samples = Enumerable.Range(1, 4)
            .SelectMany(w => Enumerable.Range(0, 47).Select(i =>
            {
                var (ahead, roundTrip) = ClockOf(w, worker2AheadMs);
                return new ClockSample(w, At(i * 5) + TimeSpan.FromMilliseconds(ahead), At(i * 5), TimeSpan.FromMilliseconds(roundTrip));
            }))
            .ToList();

        var beliefs = CleanGrants.Select(g =>
        {
            var ahead = TimeSpan.FromMilliseconds(ClockOf(g.Worker, worker2AheadMs).AheadMs);
            return new BeliefInterval(g.Worker, g.Lock, g.Epoch, Holder(g.Lock, g.Epoch), At(g.Start + 0.02) + ahead, At(g.BeliefEnd) + ahead);
        }).ToList();

        FaultRecord[] faults =
        [
            new("worker-stop", At(30), At(40), "worker-3", TimeSpan.Zero),
            new("worker-stop-in-guard", At(60), At(70), "worker-4", TimeSpan.Zero),
            new("worker-blackhole", At(90), At(100), "worker-2", TimeSpan.Zero),
            new("pg-terminate", At(150), At(150.2), null, DatabaseBudget),
            new("pgbouncer-restart", At(160), At(163), null, DatabaseBudget),
            new("pg-restart-fast", At(170), At(178), null, DatabaseBudget),
            new("pg-restart-immediate", At(185), At(200), null, DatabaseBudget),
            new("silo-kill", At(210), At(220), "silo-1", SiloBudget),
        ];

        LossRecord[] losses =
        [
            new("job-a", 5, Holder("job-a", 5), 3, At(40), "expired"),
            new("job-c", 10, Holder("job-c", 10), 4, At(62), "lost"),
            new("job-c", 11, Holder("job-c", 11), 2, At(98), "lost"),
        ];

        return new CheckInput(
            grants, InCommitOrder(writes), samples, beliefs, faults, losses,
            new BiteEvidence(StaleWritesRejected: 3, TakeoversAfterStop: 2, MovedAnswers: 1, RenewalReconnects: 4),
            RequiredKinds, ClockTolerance: TimeSpan.FromMilliseconds(10));
    }

    /// <summary>The clean history plus one write, commit order re-derived from commit times as the harness does.</summary>
    private static CheckInput WithExtraWrite(ProtectedWrite write)
    {
        var input = Clean();
        return input with { Writes = InCommitOrder([.. input.Writes, write]) };
    }

    private static List<ProtectedWrite> InCommitOrder(IEnumerable<ProtectedWrite> writes) =>
        [.. writes.OrderBy(w => w.CommittedAt).Select((w, i) => w with { CommitOrder = (ulong)i + 1 })];

    /// <summary>Changes the single item matching <paramref name="match"/>; fails the test if there is not exactly one.</summary>
    private static List<T> Replace<T>(IReadOnlyList<T> items, Func<T, bool> match, Func<T, T> change)
    {
        Assert.True(items.Count(match) == 1, $"test setup: expected exactly one {typeof(T).Name} to change");
        return [.. items.Select(item => match(item) ? change(item) : item)];
    }

    /// <summary>Asserts the report failed with <paramref name="expected"/> violations only; returns the first.</summary>
    private static Violation AssertOnly(ViolationKind expected, CheckReport report)
    {
        Assert.True(!report.Passed, $"expected a {expected} violation, but the check passed:\n{report.Format()}");
        Assert.True(report.Violations.All(v => v.Kind == expected), $"expected only {expected} violations:\n{report.Format()}");
        return report.Violations[0];
    }

    private sealed record GrantSpec(string Lock, long Epoch, int Worker, double Start, double? End, string? EndKind, double BeliefEnd);
}
