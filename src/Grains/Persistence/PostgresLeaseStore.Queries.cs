using CycleLock.Resilience;
using Npgsql;
using NpgsqlTypes;

namespace CycleLock.Persistence;

// Reads (get, list, history, the event feed) and pruning: never a lease change, so any of them may be retried freely.
public sealed partial class PostgresLeaseStore
{
    /// <inheritdoc />
    public Task<LockInfo> GetAsync(string name, CancellationToken cancellationToken) =>
        // Read-only.
        _resilience.ExecuteAsync("get", name, null, token => GetOnceAsync(name, token), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<LockInfo>> ListAsync(string? afterName, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);

        // Read-only.
        return _resilience.ExecuteAsync("list", null, null, token => ListOnceAsync(afterName, limit, token), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<LockHistoryEntry>> HistoryAsync(string name, long? beforeId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);

        // Read-only.
        return _resilience.ExecuteAsync("history", name, null, token => HistoryOnceAsync(name, beforeId, limit, token), cancellationToken);
    }

    /// <inheritdoc />
    public Task<EventPage> EventsAsync(long afterId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);

        // Read-only.
        return _resilience.ExecuteAsync("events", null, null, token => EventsOnceAsync(afterId, limit, token), cancellationToken);
    }

    /// <inheritdoc />
    public Task<long> LatestHistoryIdAsync(CancellationToken cancellationToken) =>
        // Read-only.
        _resilience.ExecuteAsync("latest-history-id", null, null, async token =>
        {
            await using var command = _dataSource.CreateCommand(LeaseSql.LatestHistoryId);
            command.Parameters.Add(Text(_serviceId));
            return (long)(await command.ExecuteScalarAsync(token).ConfigureAwait(false))!;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<int> PruneAsync(TimeSpan historyRetention, TimeSpan spentRetention, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);

        // Idempotent: deletes rows past retention; a retry deletes the next ones or none.
        return _resilience.ExecuteAsync("prune", null, null, token => PruneOnceAsync(historyRetention, spentRetention, batchSize, token), cancellationToken, lane: DatabaseLane.Background);
    }

    private async Task<LockInfo> GetOnceAsync(string name, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(LeaseSql.Get);
        command.Parameters.Add(Text(_serviceId));
        command.Parameters.Add(Text(name));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? ReadLock(reader)
            : new LockInfo(name, LockState.Free, 0, null, null, null, null, null, null, TimeSpan.Zero, null, 0, 0, null, null, false);
    }

    private async Task<IReadOnlyList<LockInfo>> ListOnceAsync(string? afterName, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(LeaseSql.List);
        command.Parameters.Add(Text(_serviceId));
        command.Parameters.Add(Text(afterName));
        command.Parameters.Add(Int(limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var locks = new List<LockInfo>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            locks.Add(ReadLock(reader));
        }

        return locks;
    }

    private async Task<EventPage> EventsOnceAsync(long afterId, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(LeaseSql.Events);
        command.Parameters.Add(Text(_serviceId));
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = afterId });
        command.Parameters.Add(Int(limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var events = new List<LockEvent>();
        long maxId = 0, xmin = 0, xmax = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            (maxId, xmin, xmax) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
            if (reader.IsDBNull(3))
            {
                continue; // no events: the horizon alone
            }

            var reason = reader.IsDBNull(9) ? null : reader.GetString(9);
            var kind = reader.GetString(6) switch
            {
                "released" when reason == "stalled" => LockEventKind.Stalled,
                "released" or "lost" => LockEventKind.Lost,
                "expired" => LockEventKind.Expired,
                _ => LockEventKind.ForceReleased,
            };
            events.Add(new LockEvent(
                reader.GetInt64(3), reader.GetString(4), reader.GetInt64(5), kind,
                reader.IsDBNull(7) ? null : reader.GetGuid(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reason,
                reader.GetFieldValue<DateTimeOffset>(10),
                reader.GetInt32(11), reader.GetInt32(12), reader.GetBoolean(13)));
        }

        return new EventPage(events, maxId, xmin, xmax);
    }

    private async Task<IReadOnlyList<LockHistoryEntry>> HistoryOnceAsync(string name, long? beforeId, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(LeaseSql.History);
        command.Parameters.Add(Text(_serviceId));
        command.Parameters.Add(Text(name));
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = beforeId is { } b ? b : DBNull.Value });
        command.Parameters.Add(Int(limit));
        return await ReadHistoryAsync(command, cancellationToken).ConfigureAwait(false);
    }

    // The rows of LeaseSql.History or LeaseSql.RecentHistory.
    private static async Task<IReadOnlyList<LockHistoryEntry>> ReadHistoryAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var entries = new List<LockHistoryEntry>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(ReadHistory(reader));
        }

        return entries;
    }

    // The columns of LeaseSql.History and LeaseSql.RecentHistory.
    private static LockHistoryEntry ReadHistory(System.Data.Common.DbDataReader reader) => new(
        reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3),
        NullableGuid(reader, 4), NullableString(reader, 5), NullableString(reader, 6), NullableString(reader, 7),
        NullableString(reader, 8), NullableString(reader, 9), reader.GetFieldValue<DateTimeOffset>(10), NullableString(reader, 11));

    private async Task<int> PruneOnceAsync(TimeSpan historyRetention, TimeSpan spentRetention, int batchSize, CancellationToken cancellationToken)
    {
        var deleted = 0;
        foreach (var (sql, retention) in new[] { (LeaseSql.PruneHistory, historyRetention), (LeaseSql.PruneSpent, spentRetention), (LeaseSql.PruneLeases, historyRetention) })
        {
            await using var command = _dataSource.CreateCommand(sql);
            command.Parameters.Add(Text(_serviceId));
            command.Parameters.Add(Interval(retention));
            command.Parameters.Add(Int(batchSize));
            deleted += await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }
}
