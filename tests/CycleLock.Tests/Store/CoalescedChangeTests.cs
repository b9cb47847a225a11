using System.Collections.Concurrent;
using System.Diagnostics;
using CycleLock.Leasing;
using CycleLock.Persistence;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace CycleLock.Tests.Store;

/// <summary>
/// Grants, releases and abandons coalesced (issue 16) against a real PostgreSQL: one statement and one commit per
/// batch, each input answered what the single-row path answers; a guarded row, a poisoned row, a dropped connection,
/// batches over the same names in opposite orders.
/// </summary>
public sealed class CoalescedChangeTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task ChangeMany_MixedAcquiresAndReleases_OneStatementAndOneCommit_EachAnsweredAsTheSingleRowPathAnswers()
    {
        var inner = Store();
        var fresh = Name();                                              // grant: no row yet
        var free = await Held(inner, "act-1");                           // grant: a row released by its holder
        await Release(inner, free, ReleaseReason.Completed);
        var spentHolder = await Held(inner, "act-1");                    // a free row, asked again by the holder that released it: spent
        await Release(inner, spentHolder, ReleaseReason.Completed);
        var dead = await Held(inner, "act-1");                           // a dead row (its stall reached MaxStalls 1): dead
        Assert.Equal(StoreOutcome.Released, (await inner.ReleaseAsync(dead.Name, dead.Holder, dead.Key, dead.Epoch, "act-1", ReleaseReason.Stalled, false, 1, None)).Outcome);
        var regrant = await Held(inner, "act-1");                        // the same holder and key again: reacquired, same epoch
        var busy = await Held(inner, "act-1");                           // another holder's lease: busy-held
        var fenced = await Held(inner, "act-1");                         // force-released, the old promise still fences: busy-fenced
        Assert.Equal(StoreOutcome.ForceReleased, (await inner.ForceReleaseAsync(fenced.Name, fenced.Epoch, "test", "test", "test", false, "act-1", Long, TimeSpan.FromSeconds(1), None)).Outcome);
        var expired = await Held(inner, "act-1", TimeSpan.FromMilliseconds(300)); // expired: ends by expiry, then granted
        var released = await Held(inner, "act-1");                       // release by its holder
        var stale = await Held(inner, "act-1");                          // release with an epoch that is not the lease's
        var expiredRelease = await Held(inner, "act-1", TimeSpan.FromMilliseconds(300)); // release of an expired lease
        var stalled = await Held(inner, "act-1");                        // the grain's stall release, counted
        var stalledDead = await Held(inner, "act-1");                    // a stall release that reaches MaxStalls: the row is dead
        var neverKeptAlive = await Held(inner, "act-1");                 // a stall of a grant never kept alive (max_stalls -1): not counted
        var lost = await Held(inner, "act-1");                           // the grain's release of a lease it lost: a 'lost' end event
        var abandoned = await Held(inner, "act-1");                      // abandon of a grant whose reply was lost
        await Task.Delay(TimeSpan.FromMilliseconds(400));

        var inputs = new[]
        {
            ChangeInput.Acquire(fresh, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(free.Name, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(spentHolder.Name, spentHolder.Holder, "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(dead.Name, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(regrant.Name, regrant.Holder, "h", regrant.Key, Long, "act-1"),
            ChangeInput.Acquire(busy.Name, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(fenced.Name, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(expired.Name, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Release(released.Name, released.Holder, released.Key, released.Epoch, "act-1", ReleaseReason.Completed, true, 3),
            ChangeInput.Release(stale.Name, stale.Holder, stale.Key, stale.Epoch + 1000, "act-1", ReleaseReason.Completed, true, 3),
            ChangeInput.Release(expiredRelease.Name, expiredRelease.Holder, expiredRelease.Key, expiredRelease.Epoch, "act-1", ReleaseReason.Failed, true, 3),
            ChangeInput.Release(stalled.Name, stalled.Holder, stalled.Key, stalled.Epoch, "act-1", ReleaseReason.Stalled, false, 3),
            ChangeInput.Release(stalledDead.Name, stalledDead.Holder, stalledDead.Key, stalledDead.Epoch, "act-1", ReleaseReason.Stalled, false, 1),
            ChangeInput.Release(neverKeptAlive.Name, neverKeptAlive.Holder, neverKeptAlive.Key, neverKeptAlive.Epoch, "act-1", ReleaseReason.Stalled, false, -1),
            ChangeInput.Release(lost.Name, lost.Holder, lost.Key, lost.Epoch, "act-1", ReleaseReason.LeaseLost, false, 3),
            ChangeInput.Abandon(abandoned.Name, abandoned.Holder, abandoned.Key),
        };

        // What the single-row functions answer for each input now, in a transaction that is rolled back.
        var alone = new List<StoreResult>();
        foreach (var input in inputs)
        {
            alone.Add(await SingleRowInRolledBackTransactionAsync(inner.ServiceId, input));
        }

        var before = await MaxHistoryIdAsync();
        var answers = await inner.ChangeManyAsync(inputs, TimeSpan.FromSeconds(5), None);

        Assert.Equal(
            [StoreOutcome.Granted, StoreOutcome.Granted, StoreOutcome.Spent, StoreOutcome.Dead, StoreOutcome.Reacquired, StoreOutcome.BusyHeld, StoreOutcome.BusyFenced, StoreOutcome.Granted,
             StoreOutcome.Released, StoreOutcome.Lost, StoreOutcome.Released, StoreOutcome.Released, StoreOutcome.Released, StoreOutcome.Released, StoreOutcome.Released, StoreOutcome.Abandoned],
            answers.Select(a => a.Outcome).ToArray());
        for (var i = 0; i < inputs.Length; i++)
        {
            var (together, single) = (answers[i], alone[i]);
            Assert.True(
                together.Outcome == single.Outcome && together.HolderId == single.HolderId && together.HolderLabel == single.HolderLabel
                && together.Activation == single.Activation && together.Reason == single.Reason && together.Ttl == single.Ttl
                && together.Attempts == single.Attempts && together.Stalls == single.Stalls
                && (together.Remaining - single.Remaining).Duration() < TimeSpan.FromSeconds(5)
                && (together.FenceUntil is null) == (single.FenceUntil is null)
                && (together.FenceUntil is not { } f || (f - single.FenceUntil!.Value).Duration() < TimeSpan.FromSeconds(5))
                // A new grant draws a new epoch (the rolled-back one was drawn from the sequence and is gone).
                && (together.Outcome == StoreOutcome.Granted ? together.Epoch > single.Epoch : together.Epoch == single.Epoch),
                $"input {i} ({inputs[i].Kind} {inputs[i].Name}): the batch answered {together}, the single-row path {single}");
        }

        Assert.Equal(regrant.Epoch, answers[4].Epoch);
        Assert.Equal((1, 1, 0), (answers[11].Stalls, answers[12].Stalls, answers[13].Stalls));

        // The side effects the answers do not show: released holders' ids are spent, rows say what happened.
        Assert.Equal(StoreOutcome.Spent, (await inner.AcquireAsync(released.Name, released.Holder, "h", released.Key, Long, "act-1", None)).Outcome);
        Assert.Equal(StoreOutcome.Spent, (await inner.AcquireAsync(stalled.Name, stalled.Holder, "h", stalled.Key, Long, "act-1", None)).Outcome);
        var row = await inner.GetAsync(fresh, None);
        Assert.Equal((LockState.Held, answers[0].Epoch, inputs[0].HolderId, "batch"), (row.State, row.Epoch, row.HolderId, row.HolderLabel));
        var failed = await inner.GetAsync(expiredRelease.Name, None);
        Assert.Equal((LockState.Free, 1, "failed"), (failed.State, failed.Attempts, failed.LastReleaseReason));
        Assert.Equal(LockState.Dead, (await inner.GetAsync(stalledDead.Name, None)).State);
        Assert.Equal((LockState.Free, 0), ((await inner.GetAsync(neverKeptAlive.Name, None)).State, (await inner.GetAsync(neverKeptAlive.Name, None)).Stalls));

        // History: exactly the events the single-row path writes, per lock, all in one transaction (one xmin).
        var written = new List<(string Name, string Event, string? Reason, string Xmin)>();
        await using (var rows = postgres.DataSource.CreateCommand("SELECT name, event, reason, xmin::text FROM cyclelock.history WHERE service_id = $1 AND id > $2 ORDER BY id"))
        {
            rows.Parameters.Add(new NpgsqlParameter { Value = inner.ServiceId });
            rows.Parameters.Add(new NpgsqlParameter { Value = before });
            await using var reader = await rows.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                written.Add((reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3)));
            }
        }

        string Events(string name) => string.Join(",", written.Where(w => w.Name == name).Select(w => w.Reason is null ? w.Event : $"{w.Event}:{w.Reason}"));
        Assert.Equal("granted", Events(fresh));
        Assert.Equal("granted", Events(free.Name));
        Assert.Equal("expired,granted", Events(expired.Name));
        Assert.Equal("released:completed", Events(released.Name));
        Assert.Equal("released:failed", Events(expiredRelease.Name));
        Assert.Equal("released:stalled", Events(stalled.Name));
        Assert.Equal("released:stalled", Events(stalledDead.Name));
        Assert.Equal("released:stalled", Events(neverKeptAlive.Name));
        Assert.Equal("lost:lease-lost", Events(lost.Name));
        Assert.Equal("released:abandoned", Events(abandoned.Name));
        Assert.Equal(11, written.Count);
        Assert.Single(written.Select(w => w.Xmin).Distinct());
    }

    [Fact]
    public async Task ChangeMany_AGrantWhoseReplyWasLost_IsGrantedAgainWithTheSameEpoch()
    {
        var inner = Store();
        var input = ChangeInput.Acquire(Name(), Guid.NewGuid(), "h", LeaseKey.New(), Long, "act-1");

        var first = Assert.Single(await inner.ChangeManyAsync([input], TimeSpan.FromSeconds(5), None));
        var again = Assert.Single(await inner.ChangeManyAsync([input], TimeSpan.FromSeconds(5), None));

        Assert.Equal((StoreOutcome.Granted, StoreOutcome.Reacquired), (first.Outcome, again.Outcome));
        Assert.Equal(first.Epoch, again.Epoch);
        Assert.Equal(["granted"], (await inner.HistoryAsync(input.Name, null, 10, None)).Select(h => h.Event).ToArray());
    }

    [Fact]
    public async Task ChangeMany_BatchesOverTheSameNamesInOppositeOrders_NeitherDeadlocks_EveryInputAnswered()
    {
        // A lock timeout long enough that the only wait a batch has (inserting a row another batch is inserting) never
        // times out here: a deadlock would surface as 40P01, a lost answer as a missing one.
        var inner = new PostgresLeaseStore(postgres.DataSource, "change-" + Guid.NewGuid().ToString("N")[..12], new LeaseStoreOptions { GrantLockTimeout = TimeSpan.FromSeconds(5) });
        for (var round = 0; round < 15; round++)
        {
            // New names every third round (both batches insert the rows), the same rows otherwise.
            var names = round % 3 == 0 ? Enumerable.Range(0, 30).Select(_ => Name()).ToList() : _oppositeNames;
            _oppositeNames = names;
            var mine = names.Select(n => ChangeInput.Acquire(n, Guid.NewGuid(), "a", LeaseKey.New(), Long, "act-1")).ToList();
            var theirs = names.Select(n => ChangeInput.Acquire(n, Guid.NewGuid(), "b", LeaseKey.New(), Long, "act-2")).Reverse().ToList();
            var answers = await Task.WhenAll(inner.ChangeManyAsync(mine, TimeSpan.FromSeconds(10), None), inner.ChangeManyAsync(theirs, TimeSpan.FromSeconds(10), None));
            Assert.Equal((30, 30), (answers[0].Count, answers[1].Count));

            // Each name granted to exactly one of the two; the other found it locked (skipped) or held (busy).
            Assert.Equal(30, answers.SelectMany(a => a).Count(a => a.Outcome == StoreOutcome.Granted));
            Assert.All(answers.SelectMany(a => a), a => Assert.Contains(a.Outcome, new[] { StoreOutcome.Granted, StoreOutcome.Skipped, StoreOutcome.BusyHeld }));

            // The holders release every name while a second batch releases the same names with wrong epochs, in the
            // opposite order; a release the batch skipped goes down the single-row path, as the coalescer sends it.
            var releases = answers.SelectMany((a, side) => a.Select((r, i) => (r, input: side == 0 ? mine[i] : theirs[i])))
                .Where(x => x.r.Outcome == StoreOutcome.Granted)
                .Select(x => ChangeInput.Release(x.input.Name, x.input.HolderId, x.input.Key, x.r.Epoch, x.input.Activation!, ReleaseReason.Completed, true, 3))
                .ToList();
            var wrong = releases.Select(r => r with { Epoch = r.Epoch + 1_000_000 }).Reverse().ToList();
            var ends = await Task.WhenAll(inner.ChangeManyAsync(releases, TimeSpan.FromSeconds(10), None), inner.ChangeManyAsync(wrong, TimeSpan.FromSeconds(10), None));
            for (var i = 0; i < releases.Count; i++)
            {
                var r = releases[i];
                var end = ends[0][i].Outcome == StoreOutcome.Skipped
                    ? await inner.ReleaseAsync(r.Name, r.HolderId, r.Key, r.Epoch, r.Activation!, r.Reason, r.ByHolder, r.MaxStalls, None)
                    : ends[0][i];
                Assert.Equal(StoreOutcome.Released, end.Outcome);
            }

            Assert.All(ends[1], e => Assert.Contains(e.Outcome, new[] { StoreOutcome.Lost, StoreOutcome.Skipped }));
        }
    }

    private List<string> _oppositeNames = [];

    [Fact]
    public async Task Coalesced_EpochGuardOpenOnOneRow_TheOtherGrantsAreAnsweredWithoutWaiting_TheGuardedOneWaitsAsAlone()
    {
        var (coalescing, inner, batches, singles) = Create(new CycleLockOptions { ChangeFlushesInFlight = 1 });
        await using var _ = coalescing;
        var guarded = await Held(inner, "act-1");
        await using var worker = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await worker.BeginTransactionAsync();
        await Exec(worker, transaction, "SELECT cyclelock.guard($1, $2, $3, $4)", inner.ServiceId, guarded.Name, guarded.Epoch, guarded.Key.Hash());

        batches.Hold = new TaskCompletionSource();
        var opener = coalescing.AcquireAsync(Name(), Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None); // flushes alone, held
        await batches.Started.WaitAsync(TimeSpan.FromSeconds(10));
        var others = Enumerable.Range(0, 5).Select(_ => coalescing.AcquireAsync(Name(), Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None)).ToArray();
        var watch = Stopwatch.StartNew();
        var blocked = coalescing.AcquireAsync(guarded.Name, Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None);
        batches.Hold.SetResult();

        var othersDone = await Task.WhenAll(others).WaitAsync(TimeSpan.FromSeconds(10));
        var guardedStillWaiting = !blocked.IsCompleted;
        var guardedAnswer = await blocked.WaitAsync(TimeSpan.FromSeconds(10));
        var guardedTook = watch.Elapsed;
        await transaction.CommitAsync();

        Assert.Equal(StoreOutcome.Granted, (await opener).Outcome);
        Assert.All(othersDone, a => Assert.Equal(StoreOutcome.Granted, a.Outcome));
        Assert.Equal(2, batches.Changes.Count);
        Assert.Equal(6, batches.Changes.Last().Length);

        // Skipped by the batch, then the single-row acquire waited for the guard under the grant lock timeout, as alone.
        Assert.Equal(StoreOutcome.BusyGuard, guardedAnswer.Outcome);
        // Only the guarded grant went single-row: the batch neither waited for the guard nor fell back for the others.
        Assert.Equal([("acquire", guarded.Name)], singles.Statements.Select(s => (s.Operation, s.Name)).ToArray());
        Assert.True(guardedStillWaiting, "the other grants were answered only after the guarded one (they must not wait for the guard)");
        Assert.True(guardedTook >= new LeaseStoreOptions().GrantLockTimeout, $"the guarded grant answered after {guardedTook.TotalMilliseconds:0} ms (expected the grant lock timeout)");
    }

    [Fact]
    public async Task Coalesced_PoisonedRow_FallsBackToOneStatementPerInput_AndOnlyThatOneFails()
    {
        var (coalescing, inner, batches, singles) = Create(new CycleLockOptions { ChangeFlushesInFlight = 1 });
        await using var _ = coalescing;
        var poisoned = await Held(inner, "act-1");
        var good = await Held(inner, "act-1");
        var trigger = "poison_" + Guid.NewGuid().ToString("N")[..12];
        await Exec($"""
            CREATE FUNCTION public.{trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'poisoned row %', NEW.name USING ERRCODE = 'P0001'; END $$;
            CREATE TRIGGER {trigger} BEFORE UPDATE ON cyclelock.lease FOR EACH ROW
            WHEN (NEW.name = '{poisoned.Name}') EXECUTE FUNCTION public.{trigger}();
            """);
        try
        {
            batches.Hold = new TaskCompletionSource();
            var opener = coalescing.AcquireAsync(Name(), Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None);
            await batches.Started.WaitAsync(TimeSpan.FromSeconds(10));
            var tasks = new[]
            {
                coalescing.ReleaseAsync(poisoned.Name, poisoned.Holder, poisoned.Key, poisoned.Epoch, "act-1", ReleaseReason.Completed, true, 3, None),
                coalescing.ReleaseAsync(good.Name, good.Holder, good.Key, good.Epoch, "act-1", ReleaseReason.Completed, true, 3, None),
                coalescing.AcquireAsync(Name(), Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None),
            };
            batches.Hold.SetResult();
            await opener;

            var failure = await Assert.ThrowsAsync<PostgresException>(() => tasks[0]);
            Assert.Equal("P0001", failure.SqlState);
            Assert.Equal(StoreOutcome.Released, (await tasks[1]).Outcome);
            Assert.Equal(StoreOutcome.Granted, (await tasks[2]).Outcome);
            Assert.Equal(3, batches.Changes.Last().Length);
            Assert.Equal(3, singles.Statements.Count(s => s.Operation is "acquire" or "release"));
            Assert.Equal(["granted", "released"], (await inner.HistoryAsync(good.Name, null, 10, None)).Select(h => h.Event).Reverse().ToArray());
            Assert.Equal(["granted"], (await inner.HistoryAsync(poisoned.Name, null, 10, None)).Select(h => h.Event).ToArray());
        }
        finally
        {
            await Exec($"DROP TRIGGER {trigger} ON cyclelock.lease; DROP FUNCTION public.{trigger}();");
        }
    }

    [Fact]
    public async Task Coalesced_BatchConnectionTerminatedMidFlight_RetriedAndEveryCallerAnsweredOnce()
    {
        var (coalescing, inner, batches, singles) = Create(new CycleLockOptions { ChangeFlushesInFlight = 1 });
        await using var _ = coalescing;
        var slow = Name();
        var gate = "gate_" + Guid.NewGuid().ToString("N")[..12];
        await Exec($"""
            CREATE TABLE public.{gate} (open boolean);
            INSERT INTO public.{gate} VALUES (false);
            CREATE FUNCTION public.{gate}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                WHILE NOT (SELECT open FROM public.{gate}) LOOP PERFORM pg_sleep(0.05); END LOOP;
                RETURN NEW;
            END $$;
            CREATE TRIGGER {gate} BEFORE UPDATE ON cyclelock.lease FOR EACH ROW
            WHEN (NEW.name = '{slow}') EXECUTE FUNCTION public.{gate}();
            """);
        try
        {
            var inputs = new[] { Name(), slow, Name() }.Select(n => (Name: n, Holder: Guid.NewGuid(), Key: LeaseKey.New())).ToArray();
            batches.Hold = new TaskCompletionSource();
            var opener = coalescing.AcquireAsync(Name(), Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None);
            await batches.Started.WaitAsync(TimeSpan.FromSeconds(10));
            var tasks = inputs.Select(i => coalescing.AcquireAsync(i.Name, i.Holder, "x", i.Key, Long, "act-1", None)).ToArray();
            batches.Hold.SetResult();
            await opener;

            var first = await SleepingBatchBackendAsync(exclude: null);
            await Exec($"SELECT pg_terminate_backend({first})");
            var second = await SleepingBatchBackendAsync(exclude: first);
            await Exec($"UPDATE public.{gate} SET open = true");
            var answers = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(20));

            Assert.NotEqual(first, second);
            Assert.All(answers, a => Assert.Equal(StoreOutcome.Granted, a.Outcome));
            Assert.Equal(2, batches.Changes.Count);
            Assert.DoesNotContain(singles.Statements, s => s.Operation == "acquire");
            foreach (var input in inputs)
            {
                Assert.Equal(["granted"], (await inner.HistoryAsync(input.Name, null, 10, None)).Select(h => h.Event).ToArray());
            }
        }
        finally
        {
            await Exec($"UPDATE public.{gate} SET open = true");
            await Exec($"DROP TRIGGER {gate} ON cyclelock.lease; DROP FUNCTION public.{gate}(); DROP TABLE public.{gate};");
        }
    }

    [Fact]
    public async Task Coalesced_AnExactDuplicate_GoesInOnce_AndSharesItsTwinsAnswer()
    {
        var (coalescing, inner, batches, _) = Create(new CycleLockOptions { ChangeFlushesInFlight = 1 });
        await using var __ = coalescing;
        batches.Hold = new TaskCompletionSource();
        var opener = coalescing.AcquireAsync(Name(), Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None);
        await batches.Started.WaitAsync(TimeSpan.FromSeconds(10));
        var (name, holder, key) = (Name(), Guid.NewGuid(), LeaseKey.New());
        var twins = new[] { coalescing.AcquireAsync(name, holder, "x", key, Long, "act-1", None), coalescing.AcquireAsync(name, holder, "x", key, Long, "act-1", None) };
        var rival = coalescing.AcquireAsync(name, Guid.NewGuid(), "y", LeaseKey.New(), Long, "act-1", None); // same name, another request: next flush
        batches.Hold.SetResult();
        await opener;

        var answers = await Task.WhenAll(twins);
        Assert.Equal(StoreOutcome.Granted, answers[0].Outcome);
        Assert.Same(answers[0], answers[1]);
        Assert.Equal(StoreOutcome.BusyHeld, (await rival).Outcome);
        Assert.Equal([[name], [name]], batches.Changes.Skip(1).ToArray());
        Assert.Equal(["granted"], (await inner.HistoryAsync(name, null, 10, None)).Select(h => h.Event).ToArray());
    }

    [Fact]
    public async Task Coalesced_ACallerThatGivesUpWhileItsFlushIsInFlight_IsAnsweredCancelledAtOnce_TheOthersAreGranted()
    {
        var (coalescing, inner, batches, _) = Create(new CycleLockOptions { ChangeFlushesInFlight = 1 });
        await using var __ = coalescing;
        batches.Hold = new TaskCompletionSource();
        using var giveUp = new CancellationTokenSource();
        var (quitter, stayer) = (Name(), Name());
        var quitting = coalescing.AcquireAsync(quitter, Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", giveUp.Token);
        await batches.Started.WaitAsync(TimeSpan.FromSeconds(10));
        await giveUp.CancelAsync();

        // Answered while its flush is still held in flight; the flush goes on for whoever else is in it.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => quitting.WaitAsync(TimeSpan.FromSeconds(5)));
        var staying = coalescing.AcquireAsync(stayer, Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None);
        batches.Hold.SetResult();
        Assert.Equal(StoreOutcome.Granted, (await staying).Outcome);

        // The quitter's grant was in a statement already sent: it may have committed (the SDK abandons it then); what
        // matters is that its caller was not kept waiting for it. Its flush was abandoned only because all gave up.
        Assert.Contains((await inner.GetAsync(quitter, None)).State, new[] { LockState.Free, LockState.Held });
    }

    [Fact]
    public async Task Coalesced_AnUncontendedAcquire_IsSentAtOnce_NoWindowIsWaited()
    {
        // A fake clock that never moves: an acquire that waited for any window would never be answered.
        var time = new FakeTimeProvider();
        var memory = new InMemoryLeaseStore(time);
        var batches = new InMemoryChanges(memory);
        await using var store = new CoalescingLeaseStore(memory, batches, new CycleLockOptions(), time, NullLogger<CoalescingLeaseStore>.Instance);

        var answer = await store.AcquireAsync("alone", Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(StoreOutcome.Granted, answer.Outcome);
        Assert.Equal(1, batches.Batches);
    }

    [Fact]
    public async Task Coalesced_ACallerThatGaveUpBeforeItsFlush_IsAnsweredCancelled_AndLeftOut()
    {
        var (coalescing, inner, batches, _) = Create(new CycleLockOptions { ChangeFlushesInFlight = 1 });
        await using var __ = coalescing;
        batches.Hold = new TaskCompletionSource();
        var opener = coalescing.AcquireAsync(Name(), Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None);
        await batches.Started.WaitAsync(TimeSpan.FromSeconds(10));
        using var giveUp = new CancellationTokenSource();
        var quitter = Name();
        var gaveUp = coalescing.AcquireAsync(quitter, Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", giveUp.Token);
        var stays = coalescing.AcquireAsync(Name(), Guid.NewGuid(), "x", LeaseKey.New(), Long, "act-1", None);
        await giveUp.CancelAsync();
        batches.Hold.SetResult();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gaveUp);
        Assert.Equal(StoreOutcome.Granted, (await stays).Outcome);
        await opener;
        Assert.DoesNotContain(quitter, batches.Changes.SelectMany(b => b));
        Assert.Equal(LockState.Free, (await inner.GetAsync(quitter, None)).State);
    }

    private PostgresLeaseStore Store() => new(postgres.DataSource, "change-" + Guid.NewGuid().ToString("N")[..12], new LeaseStoreOptions());

    private (CoalescingLeaseStore Coalescing, PostgresLeaseStore Inner, HeldBatches Batches, ControllableLeaseStore Singles) Create(CycleLockOptions options)
    {
        var inner = Store();
        var batches = new HeldBatches(inner);
        var singles = new ControllableLeaseStore(inner);
        return (new CoalescingLeaseStore(singles, batches, options, TimeProvider.System, NullLogger<CoalescingLeaseStore>.Instance), inner, batches, singles);
    }

    private static string Name() => "lock-" + Guid.NewGuid().ToString("N")[..12];

    private static async Task<Lease> Held(PostgresLeaseStore store, string activation, TimeSpan? ttl = null)
    {
        var name = Name();
        var holder = Guid.NewGuid();
        var key = LeaseKey.New();
        var grant = await store.AcquireAsync(name, holder, "h", key, ttl ?? Long, activation, None);
        Assert.Equal(StoreOutcome.Granted, grant.Outcome);
        return new Lease(name, holder, key, grant.Epoch);
    }

    private static async Task Release(PostgresLeaseStore store, Lease lease, ReleaseReason reason) =>
        Assert.Equal(StoreOutcome.Released, (await store.ReleaseAsync(lease.Name, lease.Holder, lease.Key, lease.Epoch, "act-1", reason, true, 3, None)).Outcome);

    // The single-row function for one input in a transaction that is rolled back: what it answers now, changing nothing.
    private async Task<StoreResult> SingleRowInRolledBackTransactionAsync(string serviceId, ChangeInput i)
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var (sql, values) = i.Kind switch
        {
            ChangeKind.Acquire => ("cyclelock.acquire($1, $2, $3, $4, $5, $6, $7, $8)", new object[] { serviceId, i.Name, i.HolderId, i.Label!, i.Key.Hash(), i.Ttl, i.Activation!, 250 }),
            ChangeKind.Release => ("cyclelock.release($1, $2, $3, $4, $5, $6, $7, $8, $9)", [serviceId, i.Name, i.HolderId, i.Key.Hash(), i.Epoch, i.Activation!, i.Reason.ToText(), i.ByHolder, i.MaxStalls]),
            _ => ("cyclelock.abandon($1, $2, $3, $4)", [serviceId, i.Name, i.HolderId, i.Key.Hash()]),
        };
        await using var command = new NpgsqlCommand($"SELECT outcome, epoch, holder_id, holder_label, activation, remaining, ttl, attempts, stalls, reason, fence_until FROM {sql}", connection, transaction);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var result = new StoreResult(
            StoreOutcomes.Parse(reader.GetString(0)), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetGuid(2), reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), null, reader.GetFieldValue<TimeSpan>(5), Fence(reader, 10), DateTimeOffset.MinValue,
            reader.IsDBNull(6) ? null : reader.GetFieldValue<TimeSpan>(6), reader.GetInt32(7), reader.GetInt32(8), reader.IsDBNull(9) ? null : reader.GetString(9));
        await reader.CloseAsync();
        await transaction.RollbackAsync();
        return result;
    }

    // As the store reads it: -infinity (no fence) is null.
    private static DateTimeOffset? Fence(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) || reader.GetFieldValue<DateTime>(ordinal) is var at && (at == DateTime.MinValue || at == DateTime.MaxValue)
            ? null
            : new DateTimeOffset(DateTime.SpecifyKind(reader.GetFieldValue<DateTime>(ordinal), DateTimeKind.Utc));

    private async Task<long> MaxHistoryIdAsync()
    {
        await using var command = postgres.DataSource.CreateCommand("SELECT COALESCE(max(id), 0) FROM cyclelock.history");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    // The backend running change_many while the gate trigger keeps it sleeping.
    private async Task<int> SleepingBatchBackendAsync(int? exclude)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            await using var command = postgres.DataSource.CreateCommand(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE '%change_many%' AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()");
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var pid = reader.GetInt32(0);
                if (pid != exclude)
                {
                    return pid;
                }
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"no change_many backend (other than {exclude}) was seen running within 20 s");
    }

    private async Task Exec(string sql)
    {
        await using var command = postgres.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task Exec(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync();
    }

    private sealed record Lease(string Name, Guid Holder, LeaseKey Key, long Epoch);

    /// <summary>Records every change batch (the names in it); the first batch after <see cref="Hold"/> is set waits for
    /// it, so what arrives meanwhile gathers into the next flush.</summary>
    private sealed class HeldBatches(IBatchLeaseStore inner) : IBatchLeaseStore
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ConcurrentQueue<string[]> Changes { get; } = new();

        public TaskCompletionSource? Hold { get; set; }

        public Task Started => _started.Task;

        public Task<IReadOnlyList<StoreResult>> RenewManyAsync(IReadOnlyList<RenewInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken) =>
            inner.RenewManyAsync(inputs, attemptTimeout, cancellationToken);

        public Task<IReadOnlyList<StoreResult>> AdoptManyAsync(IReadOnlyList<AdoptInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken) =>
            inner.AdoptManyAsync(inputs, attemptTimeout, cancellationToken);

        public async Task<IReadOnlyList<StoreResult>> ChangeManyAsync(IReadOnlyList<ChangeInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken)
        {
            Changes.Enqueue([.. inputs.Select(i => i.Name)]);
            if (Hold is { } hold && _started.TrySetResult())
            {
                await hold.Task;
            }

            return await inner.ChangeManyAsync(inputs, attemptTimeout, cancellationToken);
        }
    }

    /// <summary>Change batches applied one by one to the in-memory store, counted.</summary>
    private sealed class InMemoryChanges(InMemoryLeaseStore store) : IBatchLeaseStore
    {
        public int Batches { get; private set; }

        public Task<IReadOnlyList<StoreResult>> RenewManyAsync(IReadOnlyList<RenewInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<IReadOnlyList<StoreResult>> AdoptManyAsync(IReadOnlyList<AdoptInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public async Task<IReadOnlyList<StoreResult>> ChangeManyAsync(IReadOnlyList<ChangeInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken)
        {
            Batches++;
            var results = new List<StoreResult>();
            foreach (var i in inputs)
            {
                results.Add(await store.AcquireAsync(i.Name, i.HolderId, i.Label!, i.Key, i.Ttl, i.Activation!, cancellationToken));
            }

            return results;
        }
    }
}
