using CycleLock.Persistence;
using Npgsql;
using NpgsqlTypes;

namespace CycleLock.Benchmarks;

/// <summary>The baseline: the lease store's own statements (the same PL/pgSQL functions, history append
/// included), issued straight from Npgsql with the same pool size — what a hand-rolled lease table costs.</summary>
public sealed class RawStore(NpgsqlDataSource dataSource, string serviceId)
{
    private const string Activation = "raw-baseline";

    public async Task<long> AcquireAsync(string name, Guid holder, byte[] keyHash, TimeSpan ttl)
    {
        await using var command = dataSource.CreateCommand(LeaseSql.Acquire);
        Add(command, NpgsqlDbType.Text, serviceId);
        Add(command, NpgsqlDbType.Text, name);
        Add(command, NpgsqlDbType.Uuid, holder);
        Add(command, NpgsqlDbType.Text, "raw");
        Add(command, NpgsqlDbType.Bytea, keyHash);
        Add(command, NpgsqlDbType.Interval, ttl);
        Add(command, NpgsqlDbType.Text, Activation);
        Add(command, NpgsqlDbType.Integer, 250);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var outcome = reader.GetString(0);
        return outcome == "granted" ? reader.GetInt64(1) : throw new InvalidOperationException($"raw acquire of {name}: {outcome}");
    }

    public async Task ReleaseAsync(string name, Guid holder, byte[] keyHash, long epoch)
    {
        await using var command = dataSource.CreateCommand(LeaseSql.Release);
        Add(command, NpgsqlDbType.Text, serviceId);
        Add(command, NpgsqlDbType.Text, name);
        Add(command, NpgsqlDbType.Uuid, holder);
        Add(command, NpgsqlDbType.Bytea, keyHash);
        Add(command, NpgsqlDbType.Bigint, epoch);
        Add(command, NpgsqlDbType.Text, Activation);
        Add(command, NpgsqlDbType.Text, "completed");
        Add(command, NpgsqlDbType.Boolean, true);
        Add(command, NpgsqlDbType.Integer, 3);
        var outcome = (string?)await command.ExecuteScalarAsync();
        if (outcome != "released")
        {
            throw new InvalidOperationException($"raw release of {name}: {outcome}");
        }
    }

    public async Task RenewAsync(string name, Guid holder, long epoch, TimeSpan ttl)
    {
        await using var command = dataSource.CreateCommand(LeaseSql.Renew);
        Add(command, NpgsqlDbType.Text, serviceId);
        Add(command, NpgsqlDbType.Text, name);
        Add(command, NpgsqlDbType.Uuid, holder);
        Add(command, NpgsqlDbType.Bigint, epoch);
        Add(command, NpgsqlDbType.Text, Activation);
        Add(command, NpgsqlDbType.Interval, ttl);
        var outcome = (string?)await command.ExecuteScalarAsync();
        if (outcome != "renewed")
        {
            throw new InvalidOperationException($"raw renew of {name}: {outcome}");
        }
    }

    private static void Add(NpgsqlCommand command, NpgsqlDbType type, object value) =>
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = type, Value = value });

    public async Task<(long Grants, long Releases)> CountsAsync(string prefix)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT count(*) FILTER (WHERE event = 'granted'), count(*) FILTER (WHERE event = 'released') FROM cyclelock.history WHERE service_id = $1 AND name LIKE $2");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = prefix + "%" });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
