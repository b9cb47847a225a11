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
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = name });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = holder });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = "raw" });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = keyHash });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Interval, Value = ttl });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = Activation });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = 250 });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var outcome = reader.GetString(0);
        return outcome == "granted" ? reader.GetInt64(1) : throw new InvalidOperationException($"raw acquire of {name}: {outcome}");
    }

    public async Task ReleaseAsync(string name, Guid holder, byte[] keyHash, long epoch)
    {
        await using var command = dataSource.CreateCommand(LeaseSql.Release);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = name });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = holder });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = keyHash });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = epoch });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = Activation });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = "completed" });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Boolean, Value = true });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = 3 });
        var outcome = (string?)await command.ExecuteScalarAsync();
        if (outcome != "released")
        {
            throw new InvalidOperationException($"raw release of {name}: {outcome}");
        }
    }

    public async Task RenewAsync(string name, Guid holder, long epoch, TimeSpan ttl)
    {
        await using var command = dataSource.CreateCommand(LeaseSql.Renew);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = name });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = holder });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = epoch });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = Activation });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Interval, Value = ttl });
        var outcome = (string?)await command.ExecuteScalarAsync();
        if (outcome != "renewed")
        {
            throw new InvalidOperationException($"raw renew of {name}: {outcome}");
        }
    }

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
