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
        var regrant = await Held(inner, "act-1");                        // the same holder and key again: reacquired, same epoch
        var busy = await Held(inner, "act-1");                           // another holder's lease: busy-held
        var fenced = await Held(inner, "act-1");                         // force-released, the old promise still fences: busy-fenced
        Assert.Equal(StoreOutcome.ForceReleased, (await inner.ForceReleaseAsync(fenced.Name, fenced.Epoch, "test", "test", "test", false, "act-1", Long, TimeSpan.FromSeconds(1), None)).Outcome);
        var expired = await Held(inner, "act-1", TimeSpan.FromMilliseconds(300)); // expired: ends by expiry, then granted
        var released = await Held(inner, "act-1");                       // release by its holder
        var stale = await Held(inner, "act-1");                          // release with an epoch that is not the lease's
        var expiredRelease = await Held(inner, "act-1", TimeSpan.FromMilliseconds(300)); // release of an expired lease
        var stalled = await Held(inner, "act-1");                        // the grain's stall release, counted
        var abandoned = await Held(inner, "act-1");                      // abandon of a grant whose reply was lost
        await Task.Delay(TimeSpan.FromMilliseconds(400));

        var inputs = new[]
        {
            ChangeInput.Acquire(fresh, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(free.Name, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(regrant.Name, regrant.Holder, "h", regrant.Key, Long, "act-1"),
            ChangeInput.Acquire(busy.Name, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(fenced.Name, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Acquire(expired.Name, Guid.NewGuid(), "batch", LeaseKey.New(), Long, "act-1"),
            ChangeInput.Release(released.Name, released.Holder, released.Key, released.Epoch, "act-1", ReleaseReason.Completed, true, 3),
            ChangeInput.Release(stale.Name, stale.Holder, stale.Key, stale.Epoch + 1000, "act-1", ReleaseReason.Completed, true, 3),
            ChangeInput.Release(expiredRelease.Name, expiredRelease.Holder, expiredRelease.Key, expiredRelease.Epoch, "act-1", ReleaseReason.Failed, true, 3),
            ChangeInput.Release(stalled.Name, stalled.Holder, stalled.Key, stalled.Epoch, "act-1", ReleaseReason.Stalled, false, 3),
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
            [StoreOutcome.Granted, StoreOutcome.Granted, StoreOutcome.Reacquired, StoreOutcome.BusyHeld, StoreOutcome.BusyFenced, StoreOutcome.Granted,
             StoreOutcome.Released, StoreOutcome.Lost, StoreOutcome.Released, StoreOutcome.Released, StoreOutcome.Abandoned],
            answers.Select(a => a.Outcome).ToArray());
        for (var i = 0; i < inputs.Length; i++)
        {
            var (together, single) = (answers[i], alone[i]);
            Assert.True(
                together.Outcome == single.Outcome && together.HolderId == single.HolderId && together.HolderLabel == single.HolderLabel
                && together.Activation == single.Activation && together.Reason == single.Reason && together.Ttl == single.Ttl
                && together.Attempts == single.Attempts && together.Stalls == single.Stalls
                && (together.Remaining - single.Remaining).Duration() < TimeSpan.FromSeconds(2)
                // A new grant draws a new epoch (the rolled-back one was drawn from the sequence and is gone).
                && (together.Outcome == StoreOutcome.Granted ? together.Epoch > single.Epoch : together.Epoch == single.Epoch),
                $"input {i} ({inputs[i].Kind} {inputs[i].Name}): the batch answered {together}, the single-row path {single}");
        }

        Assert.Equal(regrant.Epoch, answers[2].Epoch);
        Assert.Equal(1, answers[9].Stalls);

        // The side effects the answers do not show: a released holder's id is spent, the rows say what happened.
        Assert.Equal(StoreOutcome.Spent, (await inner.AcquireAsync(released.Name, released.Holder, "h", released.Key, Long, "act-1", None)).Outcome);
        Assert.Equal(StoreOutcome.Spent, (await inner.AcquireAsync(stalled.Name, stalled.Holder, "h", stalled.Key, Long, "act-1", None)).Outcome);
        var row = await inner.GetAsync(fresh, None);
        Assert.Equal((LockState.Held, answers[0].Epoch, inputs[0].HolderId, "batch"), (row.State, row.Epoch, row.HolderId, row.HolderLabel));
        Assert.Equal((LockState.Free, 1, "failed"), ((await inner.GetAsync(expiredRelease.Name, None)).State, (await inner.GetAsync(expiredRelease.Name, None)).Attempts, (await inner.GetAsync(expiredRelease.Name, None)).LastReleaseReason));

        // One transaction: every history row the batch wrote carries the same xmin (grants, the expiry, the releases,
        // the abandon: 3 + 1 + 3 + 1).
        await using var rows = postgres.DataSource.CreateCommand("SELECT count(*), count(DISTINCT xmin::text) FROM cyclelock.history WHERE service_id = $1 AND id > $2");
        rows.Parameters.Add(new NpgsqlParameter { Value = inner.ServiceId });
        rows.Parameters.Add(new NpgsqlParameter { Value = before });
        await using var reader = await rows.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal((8L, 1L), (reader.GetInt64(0), reader.GetInt64(1)));
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
        var inner = Store();
        var names = Enumerable.Range(0, 30).Select(_ => Name()).ToList();

        // The rows exist first: inserting a new name waits (under the grant lock timeout) for another batch inserting it.
        foreach (var n in names)
        {
            var (holder, key) = (Guid.NewGuid(), LeaseKey.New());
            var grant = await inner.AcquireAsync(n, holder, "h", key, Long, "act-1", None);
            await Release(inner, new Lease(n, holder, key, grant.Epoch), ReleaseReason.Completed);
        }

        for (var round = 0; round < 15; round++)
        {
            var mine = names.Select(n => ChangeInput.Acquire(n, Guid.NewGuid(), "a", LeaseKey.New(), Long, "act-1")).ToList();
            var theirs = names.Select(n => ChangeInput.Acquire(n, Guid.NewGuid(), "b", LeaseKey.New(), Long, "act-2")).Reverse().ToList();
            var answers = await Task.WhenAll(inner.ChangeManyAsync(mine, TimeSpan.FromSeconds(5), None), inner.ChangeManyAsync(theirs, TimeSpan.FromSeconds(5), None));
            Assert.Equal((30, 30), (answers[0].Count, answers[1].Count));

            // Each name granted to exactly one of the two (or skipped by the one that found it locked and then busy).
            var granted = answers.SelectMany(a => a).Count(a => a.Outcome == StoreOutcome.Granted);
            Assert.Equal(30, granted);

            // Release what was granted, in two batches in opposite orders again.
            var releases = answers.SelectMany((a, side) => a.Select((r, i) => (r, input: side == 0 ? mine[i] : theirs[i])))
                .Where(x => x.r.Outcome == StoreOutcome.Granted)
                .Select(x => ChangeInput.Release(x.input.Name, x.input.HolderId, x.input.Key, x.r.Epoch, x.input.Activation!, ReleaseReason.Completed, true, 3))
                .ToList();
            var half = releases.Count / 2;
            var ends = await Task.WhenAll(
                inner.ChangeManyAsync(releases[..half], TimeSpan.FromSeconds(5), None),
                inner.ChangeManyAsync(Enumerable.Reverse(releases[half..]).ToList(), TimeSpan.FromSeconds(5), None));
            Assert.All(ends.SelectMany(e => e), e => Assert.Equal(StoreOutcome.Released, e.Outcome));
        }
    }

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
        var othersTook = watch.Elapsed;
        var guardedAnswer = await blocked.WaitAsync(TimeSpan.FromSeconds(10));
        var guardedTook = watch.Elapsed;
        await transaction.CommitAsync();

        Assert.Equal(StoreOutcome.Granted, (await opener).Outcome);
        Assert.All(othersDone, a => Assert.Equal(StoreOutcome.Granted, a.Outcome));
        Assert.Equal(2, batches.Changes.Count);
        Assert.Equal(6, batches.Changes.Last().Length);

        // Skipped by the batch, then the single-row acquire waited for the guard under the grant lock timeout, as alone.
        Assert.Equal(StoreOutcome.BusyGuard, guardedAnswer.Outcome);
        Assert.Single(singles.Statements, s => s.Operation == "acquire" && s.Name == guarded.Name);
        Assert.True(othersTook < TimeSpan.FromMilliseconds(200) || othersTook < guardedTook - TimeSpan.FromMilliseconds(150),
            $"the other grants took {othersTook.TotalMilliseconds:0} ms, the guarded one {guardedTook.TotalMilliseconds:0} ms (they must not wait for the guard)");
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
        await using var command = new NpgsqlCommand($"SELECT outcome, epoch, holder_id, holder_label, activation, remaining, ttl, attempts, stalls, reason FROM {sql}", connection, transaction);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var result = new StoreResult(
            StoreOutcomes.Parse(reader.GetString(0)), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetGuid(2), reader.IsDBNull(3) ? null : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), null, reader.GetFieldValue<TimeSpan>(5), null, DateTimeOffset.MinValue,
            reader.IsDBNull(6) ? null : reader.GetFieldValue<TimeSpan>(6), reader.GetInt32(7), reader.GetInt32(8), reader.IsDBNull(9) ? null : reader.GetString(9));
        await reader.CloseAsync();
        await transaction.RollbackAsync();
        return result;
    }

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
