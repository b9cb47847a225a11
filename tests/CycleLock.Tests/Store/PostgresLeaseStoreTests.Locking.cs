using System.Diagnostics;
using CycleLock.Persistence;
using CycleLock.Resilience;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;

namespace CycleLock.Tests.Store;

/// <summary>Row-lock and durability behaviour only a real PostgreSQL shows.</summary>
public sealed partial class PostgresLeaseStoreTests
{
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(800);

    [Fact]
    public async Task GrantAndForceRelease_RowHeldForKeyShare_WaitButRenewalDoesNot()
    {
        var store = CreateStore(new LeaseStoreOptions { GrantLockTimeout = TimeSpan.FromSeconds(5), ForceReleaseLockTimeout = TimeSpan.FromSeconds(5) });
        var name = NewName();
        var (x, kx) = NewHolder();
        var grant = await store.AcquireAsync(name, x, "x", kx, Long, "act-1", None);

        // Held row: a guard (FOR KEY SHARE) never blocks the renewal, but blocks force-release.
        var renewTook = await WhileKeyShareHeldAsync(store.ServiceId, name, () => store.RenewAsync(name, x, grant.Epoch, "act-1", Long, None), StoreOutcome.Renewed);
        var forceTook = await WhileKeyShareHeldAsync(store.ServiceId, name, () => store.ForceReleaseAsync(name, grant.Epoch, "r", "op", "ops", true, "act-1", TimeSpan.Zero, TimeSpan.Zero, None), StoreOutcome.ForceReleased);

        // Free row: the guard blocks a grant.
        var (y, ky) = NewHolder();
        var acquireTook = await WhileKeyShareHeldAsync(store.ServiceId, name, () => store.AcquireAsync(name, y, "y", ky, Long, "act-1", None), StoreOutcome.Granted);

        Assert.True(renewTook < Hold / 2, $"renewal waited {renewTook.TotalMilliseconds:0} ms behind a FOR KEY SHARE guard (expected no wait)");
        Assert.True(forceTook >= Hold - TimeSpan.FromMilliseconds(100), $"force-release took {forceTook.TotalMilliseconds:0} ms (expected to wait ≈ {Hold.TotalMilliseconds} ms for the guard)");
        Assert.True(acquireTook >= Hold - TimeSpan.FromMilliseconds(100), $"grant took {acquireTook.TotalMilliseconds:0} ms (expected to wait ≈ {Hold.TotalMilliseconds} ms for the guard)");
    }

    [Fact]
    public async Task Acquire_GuardHoldsRowPastLockTimeout_IsBusyFencedWriteInFlight()
    {
        var store = CreateStore(new LeaseStoreOptions { GrantLockTimeout = TimeSpan.FromMilliseconds(100) });
        var name = NewName();
        var (x, kx) = NewHolder();
        var grant = await store.AcquireAsync(name, x, "x", kx, Long, "act-1", None);
        await store.ReleaseAsync(name, x, kx, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);

        var (y, ky) = NewHolder();
        await WhileKeyShareHeldAsync(store.ServiceId, name, () => store.AcquireAsync(name, y, "y", ky, Long, "act-1", None), StoreOutcome.BusyGuard);

        Assert.Equal(StoreOutcome.Granted, (await store.AcquireAsync(name, y, "y", ky, Long, "act-1", None)).Outcome);
    }

    [Fact]
    public async Task Acquire_BusyBehindAGuard_IsNotCountedOrLoggedAsADatabaseGiveUp()
    {
        var serviceId = "test-" + Guid.NewGuid().ToString("N")[..12];
        var logger = new FakeLogger<DatabaseResilience>();
        using var metrics = new DbMetrics(serviceId);
        var store = new PostgresLeaseStore(postgres.DataSource, serviceId, new LeaseStoreOptions { GrantLockTimeout = TimeSpan.FromMilliseconds(100) },
            new DatabaseResilience(postgres.DataSource, new DatabaseResilienceOptions(), logger: logger, scope: serviceId));
        var name = NewName();
        var (x, kx) = NewHolder();
        var grant = await store.AcquireAsync(name, x, "x", kx, Long, "act-1", None);
        await store.ReleaseAsync(name, x, kx, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);

        var (y, ky) = NewHolder();
        await WhileKeyShareHeldAsync(store.ServiceId, name, () => store.AcquireAsync(name, y, "y", ky, Long, "act-1", None), StoreOutcome.BusyGuard);

        Assert.True(metrics.Count("cyclelock.db.giveups") == 0, $"a routine busy answer counted as a give-up: {metrics.Describe()}");
        Assert.True(metrics.Count(DbMetrics.Retries) == 0, $"a lock timeout was retried: {metrics.Describe()}");
        Assert.DoesNotContain(logger.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Acquire_StartedWhileRowLockedForUpdate_DrawsItsEpochAfterTheLock()
    {
        var store = CreateStore(new LeaseStoreOptions { GrantLockTimeout = TimeSpan.FromSeconds(10) });
        var name = NewName();
        var (seed, kseed) = NewHolder();
        var first = await store.AcquireAsync(name, seed, "seed", kseed, Long, "act-1", None);
        await store.ReleaseAsync(name, seed, kseed, first.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);

        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Execute(connection, transaction, "SELECT 1 FROM cyclelock.lease WHERE service_id = $1 AND name = $2 FOR UPDATE", store.ServiceId, name);

        var (a, ka) = NewHolder();
        var acquireA = Task.Run(() => store.AcquireAsync(name, a, "a", ka, Long, "act-1", None));
        await WaitUntilWaitingAsync(store.ServiceId);
        Assert.False(acquireA.IsCompleted, "acquire A should wait for the row lock");

        // In the transaction that holds the row: grant to X and release it, with the store's own functions.
        var x = Guid.NewGuid();
        var kx = LeaseKey.New();
        long xEpoch;
        await using (var grantX = new NpgsqlCommand("SELECT epoch FROM cyclelock.acquire($1, $2, $3, 'x', $4, '30 seconds', 'act-1', 1000)", connection, transaction))
        {
            grantX.Parameters.Add(new() { Value = store.ServiceId });
            grantX.Parameters.Add(new() { Value = name });
            grantX.Parameters.Add(new() { Value = x });
            grantX.Parameters.Add(new() { Value = kx.Hash() });
            xEpoch = (long)(await grantX.ExecuteScalarAsync())!;
        }

        await Execute(connection, transaction, "SELECT cyclelock.release($1, $2, $3, $4, $5, 'act-1', 'completed', true, 0)", store.ServiceId, name, x, kx.Hash(), xEpoch);
        await transaction.CommitAsync();
        var resultA = await acquireA;

        Assert.Equal(StoreOutcome.Granted, resultA.Outcome);
        Assert.True(resultA.Epoch > xEpoch, $"acquire A got epoch {resultA.Epoch}, X got {xEpoch}: A drew its epoch before the row lock");
    }

    [Fact]
    public async Task EpochSequence_Cache_IsOne()
    {
        await using var command = postgres.DataSource.CreateCommand("SELECT cache_size FROM pg_sequences WHERE schemaname = 'cyclelock' AND sequencename = 'epoch_seq'");
        Assert.Equal(1L, (long)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task AnyOperation_SynchronousCommitOff_IsAPermanentConfigurationError()
    {
        await using var dataSource = postgres.CreateDataSource(b => b.Options = "-c synchronous_commit=off");
        var store = new PostgresLeaseStore(dataSource, "test-" + Guid.NewGuid().ToString("N")[..12], new LeaseStoreOptions());
        var (a, ka) = NewHolder();

        var error = await Assert.ThrowsAsync<LeaseStoreConfigurationException>(() => store.AcquireAsync(NewName(), a, "a", ka, Long, "act-1", None));

        Assert.Contains("synchronous_commit = off", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prune_PastRetention_DeletesInBatchesAndKeepsRecentRows()
    {
        var store = CreateStore(new LeaseStoreOptions());
        var name = NewName();
        for (var i = 0; i < 5; i++)
        {
            var (h, k) = NewHolder();
            var grant = await store.AcquireAsync(name, h, "w", k, Long, "act-1", None);
            await store.ReleaseAsync(name, h, k, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);
        }

        var (live, kl) = NewHolder();
        await store.AcquireAsync(name, live, "live", kl, Long, "act-1", None);
        foreach (var sql in new[]
        {
            "UPDATE cyclelock.history SET at = at - interval '31 days' WHERE service_id = $1 AND id IN (SELECT id FROM cyclelock.history WHERE service_id = $1 ORDER BY id LIMIT 10)",
            "UPDATE cyclelock.spent_holder SET spent_at = spent_at - interval '2 days' WHERE service_id = $1",
        })
        {
            await using var age = postgres.DataSource.CreateCommand(sql);
            age.Parameters.Add(new() { Value = store.ServiceId });
            await age.ExecuteNonQueryAsync();
        }

        var first = await store.PruneAsync(TimeSpan.FromDays(30), TimeSpan.FromDays(1), 4, None);
        var rest = 0;
        int deleted;
        while ((deleted = await store.PruneAsync(TimeSpan.FromDays(30), TimeSpan.FromDays(1), 4, None)) > 0)
        {
            rest += deleted;
        }

        Assert.Equal(8, first); // 4 history rows + 4 spent ids: one batch each
        Assert.Equal(10 + 5 - 8, rest);
        var remaining = Assert.Single(await store.HistoryAsync(name, null, 100, None));
        Assert.Equal(("granted", live), (remaining.Event, remaining.HolderId));
    }

    [Fact]
    public async Task Abandon_NameNoAcquireEverReached_LeavesNoRowButSpendsTheId()
    {
        var store = CreateStore(new LeaseStoreOptions());
        var name = NewName();
        var (h, k) = NewHolder();

        var abandoned = await store.AbandonAsync(name, h, k, None);

        Assert.Equal(StoreOutcome.Nothing, abandoned.Outcome);
        Assert.Equal(0L, await CountAsync("SELECT count(*) FROM cyclelock.lease WHERE service_id = $1 AND name = $2", store.ServiceId, name));
        Assert.Equal(StoreOutcome.Spent, (await store.AcquireAsync(name, h, "late", k, Long, "act-1", None)).Outcome);
    }

    [Fact]
    public async Task Prune_FreeRowUnusedForTheRetention_IsDeletedAndTheNameStartsAgainAtAHigherEpoch()
    {
        var store = CreateStore(new LeaseStoreOptions());
        var (idle, busy, held) = (NewName(), NewName(), NewName());
        var epochs = new Dictionary<string, long>();
        foreach (var name in new[] { idle, busy, held })
        {
            var (h, k) = NewHolder();
            var grant = await store.AcquireAsync(name, h, "w", k, Long, "act-1", None);
            epochs[name] = grant.Epoch;
            if (name != held)
            {
                await store.ReleaseAsync(name, h, k, grant.Epoch, "act-1", ReleaseReason.Completed, true, 0, None);
            }
        }

        // idle and held were last used 31 days ago (held is still held: never pruned); busy just now.
        await using (var age = postgres.DataSource.CreateCommand("""
            UPDATE cyclelock.lease SET acquired_at = acquired_at - interval '31 days', renewed_at = renewed_at - interval '31 days',
                   expires_at = expires_at - interval '31 days', fence_until = fence_until - interval '31 days'
            WHERE service_id = $1 AND name = ANY($2)
            """))
        {
            age.Parameters.Add(new() { Value = store.ServiceId });
            age.Parameters.Add(new() { Value = new[] { idle, held } });
            await age.ExecuteNonQueryAsync();
        }

        await store.PruneAsync(TimeSpan.FromDays(30), TimeSpan.FromDays(1), 100, None);

        var rows = await CountAsync("SELECT count(*) FROM cyclelock.lease WHERE service_id = $1 AND name = $2", store.ServiceId, idle);
        Assert.Equal(0L, rows);
        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM cyclelock.lease WHERE service_id = $1 AND name = $2", store.ServiceId, busy));
        Assert.Equal(1L, await CountAsync("SELECT count(*) FROM cyclelock.lease WHERE service_id = $1 AND name = $2", store.ServiceId, held));
        var (again, ka) = NewHolder();
        var regrant = await store.AcquireAsync(idle, again, "again", ka, Long, "act-1", None);
        Assert.Equal(StoreOutcome.Granted, regrant.Outcome);
        Assert.True(regrant.Epoch > epochs[idle], $"the pruned name was granted epoch {regrant.Epoch}, not above its last {epochs[idle]}");
    }

    private async Task<long> CountAsync(string sql, string serviceId, string name)
    {
        await using var command = postgres.DataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = serviceId });
        command.Parameters.Add(new() { Value = name });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<TimeSpan> WhileKeyShareHeldAsync(string serviceId, string name, Func<Task<StoreResult>> operation, StoreOutcome expected)
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Execute(connection, transaction, "SELECT 1 FROM cyclelock.lease WHERE service_id = $1 AND name = $2 FOR KEY SHARE", serviceId, name);
        var watch = Stopwatch.StartNew();
        var running = operation();
        var release = Task.Delay(Hold).ContinueWith(_ => transaction.CommitAsync(), TaskScheduler.Default).Unwrap();
        var result = await running;
        var took = watch.Elapsed;
        await release;
        Assert.True(expected == result.Outcome, $"expected {expected}, got {result.Outcome}");
        return took;
    }

    private async Task WaitUntilWaitingAsync(string serviceId)
    {
        for (var i = 0; i < 200; i++)
        {
            await using var command = postgres.DataSource.CreateCommand("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%cyclelock.acquire%'");
            if ((long)(await command.ExecuteScalarAsync())! > 0)
            {
                return;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException($"No acquire was seen waiting for the row lock ({serviceId}).");
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync();
    }
}
