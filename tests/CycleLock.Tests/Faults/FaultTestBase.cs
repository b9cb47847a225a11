using CycleLock.Client;
using CycleLock.Tests.Grains;
using CycleLock.Tests.Infrastructure;
using Npgsql;

namespace CycleLock.Tests.Faults;

/// <summary>Shared pieces of the pooler fault tests: a cluster behind a PgBouncer, holders, and the checks.</summary>
public abstract class FaultTestBase(FaultDatabase database)
{
    protected PostgresFixture Postgres => database.Postgres;

    protected static string NewServiceId(string what) => $"{what}-{Guid.NewGuid().ToString("N")[..8]}";

    protected Task<CycleLockCluster> ClusterAsync(string serviceId, string connectionString, bool poolerSafe = true, bool coalesce = true) =>
        CycleLockCluster.StartAsync(Postgres, serviceId, "faults", store: o =>
        {
            o.ConnectionString = connectionString;
            o.PoolerSafe = poolerSafe;
            o.RunMigrations = false;
        }, locks: o => o.CoalesceRenewals = coalesce);

    protected static async Task<List<LockHandle>> AcquireAsync(IClusterClient client, string prefix, int count, TimeSpan ttl)
    {
        var locks = new CycleLockClient(client, new CycleLockClientOptions { HolderLabel = prefix });
        var results = await Task.WhenAll(Enumerable.Range(0, count).Select(i => locks.TryAcquireAsync($"{prefix}/{i}", ttl)));
        Assert.All(results, r => Assert.True(r.Acquired, $"acquire: {r.Reply.Status}"));
        return [.. results.Select(r => r.Handle!)];
    }

    /// <summary>No handle lost or fired LostToken; every lease row is still held by its handle's epoch.</summary>
    protected async Task AssertNoLeaseLostAsync(string serviceId, IReadOnlyList<LockHandle> handles, string phase)
    {
        foreach (var handle in handles)
        {
            Assert.False(handle.LostToken.IsCancellationRequested, $"{phase}: {handle.Name} epoch {handle.Epoch} fired LostToken ({handle.EndReason})");
            Assert.NotEqual(LockHandleState.Lost, handle.State);
        }

        await using var command = Postgres.DataSource.CreateCommand(
            "SELECT name, state, epoch, expires_at > clock_timestamp() FROM cyclelock.lease WHERE service_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<string, (string State, long Epoch, bool Live)>();
        while (await reader.ReadAsync())
        {
            rows[reader.GetString(0)] = (reader.GetString(1), reader.GetInt64(2), reader.GetBoolean(3));
        }

        foreach (var handle in handles)
        {
            Assert.True(rows.TryGetValue(handle.Name, out var row) && row == ("held", handle.Epoch, true), $"{phase}: {handle.Name} row {row} (expected held, epoch {handle.Epoch}, unexpired)");
        }

        await using var ends = Postgres.DataSource.CreateCommand("SELECT count(*) FROM cyclelock.history WHERE service_id = $1 AND is_end");
        ends.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        Assert.Equal(0L, (long)(await ends.ExecuteScalarAsync())!);
    }

    protected static async Task ReleaseAllAsync(IEnumerable<LockHandle> handles)
    {
        foreach (var handle in handles)
        {
            await handle.DisposeAsync();
        }
    }
}
