using System.Collections.Concurrent;
using System.Diagnostics;
using CycleLock.Leasing;
using CycleLock.Persistence;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CycleLock.Tests.Store;

/// <summary>
/// Renewal coalescing (DESIGN §11) against a real PostgreSQL: what one batch statement answers for each
/// input, how a poisoned row, a dropped connection and an open epoch guard affect it.
/// </summary>
public sealed class CoalescedRenewalTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Renew_MixedOutcomesAndADuplicate_OneStatementAnswersEachAsAlone()
    {
        var (store, batches, singles) = Create();
        await using var _ = store.Coalescing;
        var renewed = await Held(store.Inner, "act-1");
        var alsoRenewed = await Held(store.Inner, "act-1");
        var moved = await Held(store.Inner, "act-1");
        Assert.Equal(StoreOutcome.Adopted, (await store.Inner.AdoptAsync(moved.Name, moved.Holder, moved.Key, moved.Epoch, "act-2", None)).Outcome);
        var ended = await Held(store.Inner, "act-1");
        await store.Inner.ReleaseAsync(ended.Name, ended.Holder, ended.Key, ended.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);
        var expired = await Held(store.Inner, "act-1", TimeSpan.FromMilliseconds(300));
        await Task.Delay(TimeSpan.FromMilliseconds(400));
        var unknown = new Lease("lock-" + Guid.NewGuid().ToString("N")[..12], Guid.NewGuid(), LeaseKey.New(), 7, Long);
        var wrongTtl = (await Held(store.Inner, "act-1")) with { Ttl = Long + TimeSpan.FromSeconds(1) };
        var wrongEpoch = (await Held(store.Inner, "act-1")) is var held ? held with { Epoch = held.Epoch + 1000 } : null!;
        var regranted = await Held(store.Inner, "act-1", TimeSpan.FromMilliseconds(300));
        await Task.Delay(TimeSpan.FromMilliseconds(400));
        Assert.Equal(StoreOutcome.Granted, (await store.Inner.AcquireAsync(regranted.Name, Guid.NewGuid(), "other", LeaseKey.New(), Long, "act-1", None)).Outcome);

        // Each input's expected answer is what the single-row statement answers for it before the batch,
        // read inside a transaction that is rolled back (so the batch sees the same rows).
        var leases = new[] { renewed, alsoRenewed, moved, ended, expired, unknown, wrongTtl, wrongEpoch, regranted, renewed };
        var alone = new List<StoreResult>();
        foreach (var l in leases)
        {
            alone.Add(await SingleRowInRolledBackTransactionAsync(store.ServiceId, l));
        }

        // All handed in within one window: one statement.
        var answers = await Task.WhenAll(leases.Select(l => store.Coalescing.RenewAheadAsync(l.Name, l.Holder, l.Epoch, "act-1", l.Ttl, None)));

        Assert.Equal(
            [StoreOutcome.Renewed, StoreOutcome.Renewed, StoreOutcome.Moved, StoreOutcome.Ended, StoreOutcome.Lost, StoreOutcome.Lost, StoreOutcome.Lost, StoreOutcome.Lost, StoreOutcome.Ended, StoreOutcome.Renewed],
            answers.Select(a => a.Outcome).ToArray());
        for (var i = 0; i < leases.Length - 1; i++)
        {
            var (together, single) = (answers[i], alone[i]);
            Assert.True(
                together.Outcome == single.Outcome && together.Epoch == single.Epoch && together.HolderId == single.HolderId && together.Activation == single.Activation
                && together.Reason == single.Reason && together.Ttl == single.Ttl && (together.Remaining - single.Remaining).Duration() < TimeSpan.FromSeconds(2),
                $"input {i} ({leases[i].Name}): the batch answered {together}, the single-row statement {single}");
        }

        Assert.Equal("expired", answers[8].Reason);
        Assert.Equal("completed", answers[3].Reason);
        Assert.Equal("act-2", answers[2].Activation);
        Assert.Equal(answers[0], answers[9]);
        Assert.True(answers[0].Remaining > Long - TimeSpan.FromSeconds(2), $"renewed remaining {answers[0].Remaining} (expected ≈ {Long})");
        var batch = Assert.Single(batches.Renewals);
        Assert.Equal(9, batch.Length);
        Assert.DoesNotContain(singles.Statements, s => s.Operation == "renew");
    }

    [Fact]
    public async Task RenewMany_TwoBatchesOverTheSameRowsInOppositeOrders_NeitherDeadlocks()
    {
        var inner = new PostgresLeaseStore(postgres.DataSource, "coalesce-" + Guid.NewGuid().ToString("N")[..12], new LeaseStoreOptions());
        var leases = new List<Lease>();
        for (var i = 0; i < 40; i++)
        {
            leases.Add(await Held(inner, "act-1"));
        }

        var inputs = leases.Select(l => new RenewInput(l.Name, l.Holder, l.Epoch, "act-1", l.Ttl)).ToList();
        var reversed = Enumerable.Reverse(inputs).ToList();
        for (var round = 0; round < 20; round++)
        {
            var answers = await Task.WhenAll(
                inner.RenewManyAsync(inputs, TimeSpan.FromSeconds(5), None),
                inner.RenewManyAsync(reversed, TimeSpan.FromSeconds(5), None),
                inner.AdoptManyAsync([.. leases.Select(l => new AdoptInput(l.Name, l.Holder, l.Key, l.Epoch, "act-1"))], TimeSpan.FromSeconds(5), None));
            Assert.All(answers[0].Concat(answers[1]), a => Assert.Equal(StoreOutcome.Renewed, a.Outcome));
            Assert.All(answers[2], a => Assert.Equal(StoreOutcome.Adopted, a.Outcome));
        }
    }

    [Fact]
    public async Task RenewMany_ANameTwice_RefusedAndNothingChanged()
    {
        var inner = new PostgresLeaseStore(postgres.DataSource, "coalesce-" + Guid.NewGuid().ToString("N")[..12], new LeaseStoreOptions());
        var lease = await Held(inner, "act-1");
        var before = await inner.GetAsync(lease.Name, None);
        var input = new RenewInput(lease.Name, lease.Holder, lease.Epoch, "act-1", lease.Ttl);

        var refused = await Assert.ThrowsAsync<PostgresException>(() => inner.RenewManyAsync([input, input], TimeSpan.FromSeconds(5), None));

        Assert.Equal("CL002", refused.SqlState);
        Assert.Equal(before.ExpiresAt, (await inner.GetAsync(lease.Name, None)).ExpiresAt);
    }

    // cyclelock.renew for one lease in a transaction that is rolled back: what the single-row operation
    // answers for it now, without changing anything.
    private async Task<StoreResult> SingleRowInRolledBackTransactionAsync(string serviceId, Lease lease)
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand(
            "SELECT outcome, epoch, holder_id, activation, remaining, ttl, reason FROM cyclelock.renew($1, $2, $3, $4, $5, $6)", connection, transaction);
        foreach (var value in new object[] { serviceId, lease.Name, lease.Holder, lease.Epoch, "act-1", lease.Ttl })
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var result = new StoreResult(
            StoreOutcomes.Parse(reader.GetString(0)), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetGuid(2), null,
            reader.IsDBNull(3) ? null : reader.GetString(3), null, reader.GetFieldValue<TimeSpan>(4), null, DateTimeOffset.MinValue,
            reader.IsDBNull(5) ? null : reader.GetFieldValue<TimeSpan>(5), 0, 0, reader.IsDBNull(6) ? null : reader.GetString(6));
        await reader.CloseAsync();
        await transaction.RollbackAsync();
        return result;
    }

    [Fact]
    public async Task Renew_PoisonedRow_FallsBackToOneStatementPerLeaseAndOnlyThatOneFails()
    {
        var (store, batches, singles) = Create();
        await using var _ = store.Coalescing;
        var good = await Held(store.Inner, "act-1");
        var poisoned = await Held(store.Inner, "act-1");
        var alsoGood = await Held(store.Inner, "act-1");
        var trigger = "poison_" + Guid.NewGuid().ToString("N")[..12];
        await Exec($"""
            CREATE FUNCTION public.{trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'poisoned row %', NEW.name USING ERRCODE = 'P0001'; END $$;
            CREATE TRIGGER {trigger} BEFORE UPDATE ON cyclelock.lease FOR EACH ROW
            WHEN (NEW.name = '{poisoned.Name}') EXECUTE FUNCTION public.{trigger}();
            """);
        try
        {
            // Handed in ahead (as grains do), so all three are due together and go in one statement: renewals sent
            // with RenewAsync are due at once and the first may flush alone (natural batching) — that made this flaky.
            var tasks = new[] { good, poisoned, alsoGood }.Select(l => store.Coalescing.RenewAheadAsync(l.Name, l.Holder, l.Epoch, "act-1", l.Ttl, None)).ToArray();
            var failure = await Assert.ThrowsAsync<PostgresException>(() => tasks[1]);

            Assert.Equal("P0001", failure.SqlState);
            Assert.Equal(StoreOutcome.Renewed, (await tasks[0]).Outcome);
            Assert.Equal(StoreOutcome.Renewed, (await tasks[2]).Outcome);
            Assert.Single(batches.Renewals);
            Assert.Equal(3, singles.Statements.Count(s => s.Operation == "renew"));
        }
        finally
        {
            await Exec($"DROP TRIGGER {trigger} ON cyclelock.lease; DROP FUNCTION public.{trigger}();");
        }
    }

    [Fact]
    public async Task Renew_BatchConnectionTerminatedWhileWaiting_RetriedAndEveryLeaseRenewed()
    {
        var (store, batches, singles) = Create();
        await using var _ = store.Coalescing;
        var leases = new[] { await Held(store.Inner, "act-1"), await Held(store.Inner, "act-1"), await Held(store.Inner, "act-1") };

        // Hold one row FOR UPDATE so the batch waits for it where we can see it, then drop its connection.
        await using var blocker = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await Exec(blocker, transaction, "SELECT 1 FROM cyclelock.lease WHERE service_id = $1 AND name = $2 FOR UPDATE", store.ServiceId, leases[1].Name);
        var tasks = leases.Select(l => store.Coalescing.RenewAheadAsync(l.Name, l.Holder, l.Epoch, "act-1", l.Ttl, None)).ToArray(); // due together: one batch
        var first = await WaitingBatchBackendAsync(exclude: null);
        await Exec($"SELECT pg_terminate_backend({first})");
        var second = await WaitingBatchBackendAsync(exclude: first);
        await transaction.CommitAsync();
        var answers = await Task.WhenAll(tasks);

        Assert.NotEqual(first, second);
        Assert.All(answers, a => Assert.Equal(StoreOutcome.Renewed, a.Outcome));
        Assert.Single(batches.Renewals);
        Assert.DoesNotContain(singles.Statements, s => s.Operation == "renew");
    }

    [Fact]
    public async Task Renew_EpochGuardOpenOnOneRow_BatchDoesNotWaitForIt()
    {
        var (store, batches, _) = Create();
        await using var __ = store.Coalescing;
        var guarded = await Held(store.Inner, "act-1");
        var other = await Held(store.Inner, "act-1");

        await using var worker = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await worker.BeginTransactionAsync();
        await Exec(worker, transaction, "SELECT cyclelock.guard($1, $2, $3, $4)", store.ServiceId, guarded.Name, guarded.Epoch, guarded.Key.Hash());
        var watch = Stopwatch.StartNew();
        var answers = Task.WhenAll(new[] { guarded, other }.Select(l => store.Coalescing.RenewAheadAsync(l.Name, l.Holder, l.Epoch, "act-1", l.Ttl, None))); // due together: one batch
        var finishedFirst = await Task.WhenAny(answers, Task.Delay(TimeSpan.FromSeconds(5)));
        var took = watch.Elapsed;
        await transaction.CommitAsync();

        Assert.True(finishedFirst == answers, $"the batch was still waiting {took.TotalSeconds:0.0} s behind an open guard (expected it not to wait)");
        Assert.All(await answers, a => Assert.Equal(StoreOutcome.Renewed, a.Outcome));
        Assert.Single(batches.Renewals);
    }

    [Fact]
    public async Task Adopt_SeveralAtOnce_CoalescedAndAnAdoptedEventPerChangedActivation()
    {
        var (store, batches, _) = Create();
        await using var _ = store.Coalescing;
        var moving = await Held(store.Inner, "act-1");
        var same = await Held(store.Inner, "act-2");
        var wrongKey = await Held(store.Inner, "act-1");

        var answers = await Task.WhenAll(
            store.Coalescing.AdoptAsync(moving.Name, moving.Holder, moving.Key, moving.Epoch, "act-2", None),
            store.Coalescing.AdoptAsync(same.Name, same.Holder, same.Key, same.Epoch, "act-2", None),
            store.Coalescing.AdoptAsync(wrongKey.Name, wrongKey.Holder, LeaseKey.New(), wrongKey.Epoch, "act-2", None));

        Assert.Equal([StoreOutcome.Adopted, StoreOutcome.Adopted, StoreOutcome.Lost], answers.Select(a => a.Outcome).ToArray());
        Assert.Equal("act-1", answers[0].PreviousActivation);
        Assert.True(batches.Adoptions.Sum(b => b.Length) == 3 && batches.Adoptions.Count <= 2, $"adoptions sent as {batches.Adoptions.Count} statements");
        Assert.Equal(["granted", "adopted"], (await store.Inner.HistoryAsync(moving.Name, null, 10, None)).Select(h => h.Event).Reverse().ToArray());
        Assert.Equal(["granted"], (await store.Inner.HistoryAsync(same.Name, null, 10, None)).Select(h => h.Event).ToArray());
    }

    private (Stores Store, RecordingBatches Batches, ControllableLeaseStore Singles) Create()
    {
        var inner = new PostgresLeaseStore(postgres.DataSource, "coalesce-" + Guid.NewGuid().ToString("N")[..12], new LeaseStoreOptions());
        var batches = new RecordingBatches(inner);
        var singles = new ControllableLeaseStore(inner);
        var coalescing = new CoalescingLeaseStore(singles, batches, new CycleLockOptions(), TimeProvider.System, NullLogger<CoalescingLeaseStore>.Instance);
        return (new Stores(inner, coalescing), batches, singles);
    }

    private static async Task<Lease> Held(PostgresLeaseStore store, string activation, TimeSpan? ttl = null)
    {
        var name = "lock-" + Guid.NewGuid().ToString("N")[..12];
        var holder = Guid.NewGuid();
        var key = LeaseKey.New();
        var grant = await store.AcquireAsync(name, holder, "h", key, ttl ?? Long, activation, None);
        Assert.Equal(StoreOutcome.Granted, grant.Outcome);
        return new Lease(name, holder, key, grant.Epoch, ttl ?? Long);
    }

    // The backend running renew_many while it waits for a row lock.
    private async Task<int> WaitingBatchBackendAsync(int? exclude)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            await using var command = postgres.DataSource.CreateCommand(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE '%renew_many%' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()");
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

        throw new TimeoutException($"no renew_many backend (other than {exclude}) was seen waiting for a row lock within 20 s");
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

    private sealed record Lease(string Name, Guid Holder, LeaseKey Key, long Epoch, TimeSpan Ttl);

    private sealed record Stores(PostgresLeaseStore Inner, CoalescingLeaseStore Coalescing)
    {
        public string ServiceId => Inner.ServiceId;
    }

    /// <summary>Records every batch the coalescer sends (the names in it) before the store runs it.</summary>
    private sealed class RecordingBatches(IBatchLeaseStore inner) : IBatchLeaseStore
    {
        public ConcurrentQueue<string[]> Renewals { get; } = new();

        public ConcurrentQueue<string[]> Adoptions { get; } = new();

        public Task<IReadOnlyList<StoreResult>> RenewManyAsync(IReadOnlyList<RenewInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken)
        {
            Renewals.Enqueue([.. inputs.Select(i => i.Name)]);
            return inner.RenewManyAsync(inputs, attemptTimeout, cancellationToken);
        }

        public Task<IReadOnlyList<StoreResult>> AdoptManyAsync(IReadOnlyList<AdoptInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken)
        {
            Adoptions.Enqueue([.. inputs.Select(i => i.Name)]);
            return inner.AdoptManyAsync(inputs, attemptTimeout, cancellationToken);
        }

        public Task<IReadOnlyList<StoreResult>> ChangeManyAsync(IReadOnlyList<ChangeInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken) =>
            inner.ChangeManyAsync(inputs, attemptTimeout, cancellationToken);
    }
}
