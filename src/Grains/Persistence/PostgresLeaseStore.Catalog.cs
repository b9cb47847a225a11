using Npgsql;
using CycleLock.Resilience;
using NpgsqlTypes;

namespace CycleLock.Persistence;

/// <summary>The operator console's reads (<see cref="ILockCatalog"/>).</summary>
public sealed partial class PostgresLeaseStore : ILockCatalog
{
    /// <inheritdoc />
    public Task<LockPage> QueryAsync(LockQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        return _resilience.ExecuteAsync("query", null, null, token => QueryOnceAsync(query, token), cancellationToken, lane: DatabaseLane.Background);
    }

    /// <inheritdoc />
    public Task<LockSummary> SummaryAsync(CancellationToken cancellationToken) =>
        _resilience.ExecuteAsync("summary", null, null, SummaryOnceAsync, cancellationToken, lane: DatabaseLane.Background);

    /// <inheritdoc />
    public Task<IReadOnlyList<LockHistoryEntry>> RecentHistoryAsync(IReadOnlyList<string> names, DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(names);
        return _resilience.ExecuteAsync("recent-history", null, null, token => RecentHistoryOnceAsync(names, since, limit, token), cancellationToken, lane: DatabaseLane.Background);
    }

    private async Task<LockPage> QueryOnceAsync(LockQuery query, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(LeaseSql.QueryLocks.Replace("/*order*/", LeaseSql.QueryOrder(query.Sort), StringComparison.Ordinal));
        command.Parameters.Add(Text(_serviceId));
        command.Parameters.Add(Text(string.IsNullOrEmpty(query.Prefix) ? null : query.Prefix));
        command.Parameters.Add(Text(query.State));
        command.Parameters.Add(Text(string.IsNullOrEmpty(query.Holder) ? null : query.Holder));
        command.Parameters.Add(Int(query.Limit));
        command.Parameters.Add(Int(query.Offset));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var locks = new List<LockInfo>();
        long total = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            locks.Add(ReadLock(reader));
            total = reader.GetInt64(reader.FieldCount - 1);
        }

        if (locks.Count == 0 && query.Offset > 0)
        {
            // Past the end: the count comes from the rows, so ask for it alone.
            var first = await QueryOnceAsync(query with { Offset = 0, Limit = 1 }, cancellationToken).ConfigureAwait(false);
            total = first.Total;
        }

        return new LockPage([.. locks], total);
    }

    private async Task<LockSummary> SummaryOnceAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(LeaseSql.Summary);
        command.Parameters.Add(Text(_serviceId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new LockSummary(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
    }

    private async Task<IReadOnlyList<LockHistoryEntry>> RecentHistoryOnceAsync(IReadOnlyList<string> names, DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(LeaseSql.RecentHistory);
        command.Parameters.Add(Text(_serviceId));
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = names.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = since.UtcDateTime });
        command.Parameters.Add(Int(limit));
        return await ReadHistoryAsync(command, cancellationToken).ConfigureAwait(false);
    }
}
