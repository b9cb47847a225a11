using System.Diagnostics;
using CycleLock.Client;
using CycleLock.Tests.Infrastructure;
using Npgsql;

namespace CycleLock.Tests.Sdk;

/// <summary>Helpers shared by the real-time SDK tests.</summary>
public abstract class SdkTestBase(SdkClusterFixture fixture)
{
    protected SdkClusterFixture Fixture => fixture;

    protected IClusterClient Client => fixture.Cluster.Client;

    protected PostgresFixture Postgres => fixture.Postgres;

    protected string ServiceId => fixture.Cluster.ServiceId;

    protected static string NewName(string what) => $"sdk-{what}/" + Guid.NewGuid().ToString("N")[..10];

    protected CycleLockClient Locks(string label, CycleLockClientOptions? options = null)
    {
        options ??= new CycleLockClientOptions();
        options.HolderLabel = label;
        return new CycleLockClient(Client, options);
    }

    protected static Task WhenCancelled(CancellationToken token)
    {
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => fired.TrySetResult());
        return fired.Task;
    }

    protected static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    protected static Task Eventually(Func<Task<bool>> condition, TimeSpan within, string what) => Wait.UntilAsync(condition, within, what);

    protected async Task<(string State, long Epoch, bool Live, int Attempts, int Stalls)> RowAsync(string name)
    {
        await using var command = Postgres.DataSource.CreateCommand(
            "SELECT state, epoch, COALESCE(expires_at > clock_timestamp(), false), attempts, stalls FROM cyclelock.lease WHERE service_id = $1 AND name = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = ServiceId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync()
            ? (reader.GetString(0), reader.GetInt64(1), reader.GetBoolean(2), reader.GetInt32(3), reader.GetInt32(4))
            : ("none", 0, false, 0, 0);
    }

    protected async Task<List<(string Event, string? Reason, long Epoch)>> HistoryAsync(string name)
    {
        await using var command = Postgres.DataSource.CreateCommand(
            "SELECT event, reason, epoch FROM cyclelock.history WHERE service_id = $1 AND name = $2 ORDER BY id");
        command.Parameters.Add(new NpgsqlParameter { Value = ServiceId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, string?, long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2)));
        }

        return rows;
    }
}
