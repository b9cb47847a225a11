using System.Diagnostics;
using CycleLock.Persistence;
using CycleLock.Tests.Infrastructure;
using Npgsql;

namespace CycleLock.Tests.Guard;

/// <summary>The epoch guard function on real PostgreSQL (DESIGN §8).</summary>
public sealed class EpochGuardSqlTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _service = "guard-" + Guid.NewGuid().ToString("N")[..10];

    private PostgresLeaseStore Store(TimeSpan? grantLockTimeout = null) =>
        new(postgres.DataSource, _service, new LeaseStoreOptions { GrantLockTimeout = grantLockTimeout ?? TimeSpan.FromMilliseconds(250) });

    private static string NewName() => "guarded/" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Runs the guard in its own transaction and commits; returns the rejection reason (HINT) or null.</summary>
    private async Task<string?> GuardAsync(string name, long epoch, LeaseKey key)
    {
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        try
        {
            await using var command = GuardCommand(connection, transaction, name, epoch, key);
            await command.ExecuteScalarAsync();
            await transaction.CommitAsync();
            return null;
        }
        catch (PostgresException e) when (e.SqlState == "CL001")
        {
            return e.Hint;
        }
    }

    [Fact]
    public async Task Guard_CurrentEpochAndHolder_Accepted_EveryOtherCaseRejectedWithItsReason()
    {
        var store = Store();
        var name = NewName();
        var holder = Guid.NewGuid();
        var key = LeaseKey.New();
        var grant = await store.AcquireAsync(name, holder, "h", key, Long, "act", None);

        Assert.Null(await GuardAsync(name, grant.Epoch, key));
        Assert.Equal("stale-epoch", await GuardAsync(name, grant.Epoch - 1, key));
        Assert.Equal("other-holder", await GuardAsync(name, grant.Epoch, LeaseKey.New()));
        Assert.Equal("unknown", await GuardAsync("guarded/never-" + Guid.NewGuid().ToString("N")[..6], 1, key));

        // Released by its holder: the row is holder-less.
        await store.ReleaseAsync(name, holder, key, grant.Epoch, "act", ReleaseReason.Completed, byHolder: true, 3, None);
        Assert.Equal("not-held", await GuardAsync(name, grant.Epoch, key));

        // Force-released: the epoch moved on.
        var second = Guid.NewGuid();
        var secondKey = LeaseKey.New();
        var again = await store.AcquireAsync(name, second, "h2", secondKey, Long, "act", None);
        Assert.Equal(StoreOutcome.Granted, again.Outcome);
        await store.ForceReleaseAsync(name, again.Epoch, "test", "op", "ops", skipDelay: true, "act", TimeSpan.Zero, TimeSpan.Zero, None);
        Assert.Equal("stale-epoch", await GuardAsync(name, again.Epoch, secondKey));
    }

    [Fact]
    public async Task Guard_LeaseExpiredByTheDatabaseClock_Rejected()
    {
        var store = Store();
        var name = NewName();
        var key = LeaseKey.New();
        var grant = await store.AcquireAsync(name, Guid.NewGuid(), "h", key, TimeSpan.FromSeconds(1), "act", None);
        Assert.Null(await GuardAsync(name, grant.Epoch, key));
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        Assert.Equal("expired", await GuardAsync(name, grant.Epoch, key));
    }

    [Fact]
    public async Task Guard_ExpiryIsCheckedByClockTimestamp_NotTheTransactionStart()
    {
        var store = Store();
        var name = NewName();
        var key = LeaseKey.New();
        var grant = await store.AcquireAsync(name, Guid.NewGuid(), "h", key, TimeSpan.FromSeconds(1), "act", None);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var start = new NpgsqlCommand("SELECT now()", connection, transaction))
        {
            await start.ExecuteScalarAsync(); // the transaction's now() is fixed here, while the lease is live
        }

        await Task.Delay(TimeSpan.FromSeconds(1.2));
        await using var guard = GuardCommand(connection, transaction, name, grant.Epoch, key);
        var e = await Assert.ThrowsAsync<PostgresException>(() => guard.ExecuteScalarAsync());
        Assert.Equal(("CL001", "expired"), (e.SqlState, e.Hint));
    }

    [Fact]
    public async Task GuardHeldShorterThanTheGrantLockTimeout_GrantWaits_ThenGivesTheNextEpoch()
    {
        var store = Store(TimeSpan.FromMilliseconds(500));
        var name = NewName();
        var (holder, key) = (Guid.NewGuid(), LeaseKey.New());
        var grant = await store.AcquireAsync(name, holder, "h", key, Long, "act", None);

        // The guard runs inside the worker's transaction; the holder releases meanwhile (releases never wait).
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await RunGuardAsync(connection, transaction, name, grant.Epoch, key);
        var released = Stopwatch.StartNew();
        Assert.Equal(StoreOutcome.Released, (await store.ReleaseAsync(name, holder, key, grant.Epoch, "act", ReleaseReason.Completed, true, 3, None)).Outcome);
        Assert.True(released.Elapsed < TimeSpan.FromMilliseconds(200), $"the release waited {released.ElapsedMilliseconds} ms behind the guard");

        var next = store.AcquireAsync(name, Guid.NewGuid(), "next", LeaseKey.New(), Long, "act", None);
        await Task.Delay(200);
        Assert.False(next.IsCompleted, "the grant did not wait for the guarded transaction");
        await transaction.CommitAsync();
        var result = await next;
        // Epochs come from one sequence shared by every lock (DESIGN §2), so with other tests granting at the
        // same time the next epoch is greater, not necessarily grant.Epoch + 1.
        Assert.Equal(StoreOutcome.Granted, result.Outcome);
        Assert.True(result.Epoch > grant.Epoch, $"the next grant's epoch {result.Epoch} is not above {grant.Epoch}");
    }

    [Fact]
    public async Task GuardHeldLongerThanTheGrantLockTimeout_GrantIsBusyFencedWriteInFlight_WithinTimeoutPlus100ms()
    {
        var timeout = TimeSpan.FromMilliseconds(250);
        var store = Store(timeout);
        var name = NewName();
        var (holder, key) = (Guid.NewGuid(), LeaseKey.New());
        var grant = await store.AcquireAsync(name, holder, "h", key, Long, "act", None);
        await store.ReleaseAsync(name, holder, key, grant.Epoch, "act", ReleaseReason.Completed, true, 3, None);

        // The live holder's worker passes the guard and keeps its transaction open (a slow protected write).
        var live = Guid.NewGuid();
        var liveKey = LeaseKey.New();
        var second = await store.AcquireAsync(name, live, "live", liveKey, Long, "act", None);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await RunGuardAsync(connection, transaction, name, second.Epoch, liveKey);

        // The renewal does not wait; the stall release does not wait.
        var renew = Stopwatch.StartNew();
        Assert.Equal(StoreOutcome.Renewed, (await store.RenewAsync(name, live, second.Epoch, "act", Long, None)).Outcome);
        Assert.True(renew.Elapsed < TimeSpan.FromMilliseconds(200), $"the renewal waited {renew.ElapsedMilliseconds} ms behind the guard");
        var stall = Stopwatch.StartNew();
        Assert.Equal(StoreOutcome.Released, (await store.ReleaseAsync(name, live, liveKey, second.Epoch, "act", ReleaseReason.Stalled, false, 3, None)).Outcome);
        Assert.True(stall.Elapsed < TimeSpan.FromMilliseconds(200), $"the stall release waited {stall.ElapsedMilliseconds} ms behind the guard");

        var busy = Stopwatch.StartNew();
        var result = await store.AcquireAsync(name, Guid.NewGuid(), "next", LeaseKey.New(), Long, "act", None);
        busy.Stop();
        TestContext.Current.SendDiagnosticMessage($"grant behind a guard held past the lock timeout: {result.Outcome} after {busy.ElapsedMilliseconds} ms (lock timeout {timeout.TotalMilliseconds} ms)");
        Assert.Equal(StoreOutcome.BusyGuard, result.Outcome);
        Assert.True(busy.Elapsed <= timeout + TimeSpan.FromMilliseconds(100), $"Busy came after {busy.ElapsedMilliseconds} ms (rule: within the lock timeout + 100 ms)");
        await transaction.RollbackAsync();
    }

    [Fact]
    public async Task Guard_WithThePublicEpochAndHolderIdButNotTheKey_IsRefused_AndTheGrantAfterTheReleaseDoesNotWait()
    {
        // What any gateway client can read (InspectAsync): the epoch and the holder id. The old guard accepted them.
        var store = Store(TimeSpan.FromMilliseconds(500));
        var name = NewName();
        var (holder, key) = (Guid.NewGuid(), LeaseKey.New());
        var grant = await store.AcquireAsync(name, holder, "victim", key, Long, "act", None);
        await using var connection = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var guess = GuardCommand(connection, transaction, name, grant.Epoch, new LeaseKey(holder.ToString()));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => guess.ExecuteScalarAsync());
        Assert.Equal(("CL001", "other-holder"), (refused.SqlState, refused.Hint));
        await transaction.RollbackAsync();

        await store.ReleaseAsync(name, holder, key, grant.Epoch, "act", ReleaseReason.Completed, true, 3, None);
        var next = Stopwatch.StartNew();
        Assert.Equal(StoreOutcome.Granted, (await store.AcquireAsync(name, Guid.NewGuid(), "next", LeaseKey.New(), Long, "act", None)).Outcome);
        Assert.True(next.Elapsed < TimeSpan.FromMilliseconds(400), $"the next grant waited {next.ElapsedMilliseconds} ms");

        await using var old = postgres.DataSource.CreateCommand("SELECT to_regprocedure('cyclelock.guard(text, text, bigint, uuid)') IS NULL");
        Assert.True((bool)(await old.ExecuteScalarAsync())!, "the guard keyed by the public holder id is gone");
    }

    [Fact]
    public async Task SecurityDefinerFunctions_PutPgTempLast()
    {
        await using var command = postgres.DataSource.CreateCommand(
            "SELECT p.oid::regprocedure::text, array_to_string(p.proconfig, ',') FROM pg_proc p WHERE p.prosecdef AND p.pronamespace = 'cyclelock'::regnamespace");
        await using var reader = await command.ExecuteReaderAsync();
        var checkedAny = false;
        while (await reader.ReadAsync())
        {
            checkedAny = true;
            var config = reader.IsDBNull(1) ? string.Empty : reader.GetString(1);
            Assert.True(config.EndsWith("pg_temp", StringComparison.Ordinal), $"{reader.GetString(0)} runs with '{config}' (rule: search_path ending in pg_temp)");
        }

        Assert.True(checkedAny, "no SECURITY DEFINER function found");
    }

    [Fact]
    public async Task Guard_ExecuteIsRevokedFromPublic()
    {
        await using var command = postgres.DataSource.CreateCommand(
            "SELECT has_function_privilege('public', 'cyclelock.guard(text, text, bigint, bytea)', 'EXECUTE'), prosecdef FROM pg_proc WHERE proname = 'guard' AND pronamespace = 'cyclelock'::regnamespace");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.False(reader.GetBoolean(0), "PUBLIC can execute the guard");
        Assert.True(reader.GetBoolean(1), "the guard is not SECURITY DEFINER");
    }

    private async Task RunGuardAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string name, long epoch, LeaseKey key)
    {
        await using var command = GuardCommand(connection, transaction, name, epoch, key);
        Assert.Equal(epoch, (long)(await command.ExecuteScalarAsync())!);
    }

    private NpgsqlCommand GuardCommand(NpgsqlConnection connection, NpgsqlTransaction transaction, string name, long epoch, LeaseKey key)
    {
        var command = new NpgsqlCommand("SELECT cyclelock.guard($1, $2, $3, $4)", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = _service });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        command.Parameters.Add(new NpgsqlParameter { Value = epoch });
        command.Parameters.Add(new NpgsqlParameter { Value = key.Hash() });
        return command;
    }
}
