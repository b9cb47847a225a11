using System.Data.Common;
using CycleLock.Resilience;
using Npgsql;
using NpgsqlTypes;

namespace CycleLock.Persistence;

/// <summary>
/// The PostgreSQL lease store. One singleton <see cref="NpgsqlDataSource"/>; each attempt opens a pooled
/// connection for one statement, and every call runs through the silo's <see cref="DatabaseResilience"/>
/// pipeline (the transient-error matcher, retries, reconnect, breaker). Every operation is idempotent, so
/// a retry after an attempt whose outcome is in doubt is safe — each method says why. Every result carries
/// <c>current_setting('synchronous_commit')</c>, and <c>off</c> is a permanent <see cref="LeaseStoreConfigurationException"/>.
/// </summary>
public sealed class PostgresLeaseStore : ILeaseStore, IBatchLeaseStore
{
    private const string LockNotAvailable = "55P03";

    // How long an acquire refused as overloaded is told to wait before it asks again.
    private static readonly TimeSpan OverloadRetryAfter = TimeSpan.FromSeconds(1);

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _serviceId;
    private readonly LeaseStoreOptions _options;
    private readonly DatabaseResilience _resilience;

    /// <summary>Creates the store for the rows of <paramref name="serviceId"/>; without
    /// <paramref name="resilience"/> it builds a pipeline with the default options.</summary>
    public PostgresLeaseStore(NpgsqlDataSource dataSource, string serviceId, LeaseStoreOptions options, DatabaseResilience? resilience = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        ArgumentNullException.ThrowIfNull(options);
        _dataSource = dataSource;
        _serviceId = serviceId;
        _options = options;
        _resilience = resilience ?? new DatabaseResilience(dataSource, new DatabaseResilienceOptions());
    }

    /// <summary>The ServiceId namespace of this store's rows.</summary>
    public string ServiceId => _serviceId;

    /// <inheritdoc />
    public async Task<StoreResult> AcquireAsync(string name, Guid holderId, string label, LeaseKey key, TimeSpan ttl, string activation, CancellationToken cancellationToken)
    {
        try
        {
            // Idempotent: a retry by the same holder id and key returns the same lease ("reacquired"). Our own grant
            // lock timeout (a fenced write, an epoch guard, holds the row) is a Busy answer inside the attempt, so the
            // pipeline never counts or logs it as a database give-up.
            return await RunAsync("acquire", name, null, LeaseSql.Acquire, cancellationToken, null, StoreOutcome.BusyGuard, DatabaseLane.Foreground,
                Text(_serviceId), Text(name), Uuid(holderId), Text(label), Bytes(key.Hash()), Interval(ttl), Text(activation),
                Int((int)_options.GrantLockTimeout.TotalMilliseconds)).ConfigureAwait(false);
        }
        catch (DatabaseOverloadedException)
        {
            // The silo's database work is at its bound: nothing was sent. Busy, retry after a moment, not a timeout.
            return Busy(StoreOutcome.BusyOverloaded) with { Remaining = OverloadRetryAfter };
        }
    }

    /// <inheritdoc />
    public Task<StoreResult> AdoptAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, CancellationToken cancellationToken) =>
        // Idempotent: adopting again by the same activation changes nothing but prev_activation.
        RunAsync("adopt", name, epoch, LeaseSql.Adopt, cancellationToken,
            Text(_serviceId), Text(name), Uuid(holderId), Bytes(key.Hash()), Long(epoch), Text(activation));

    /// <inheritdoc />
    public Task<StoreResult> RenewAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken) =>
        // Idempotent: a second renewal sets expires_at = now + ttl again; it never revives an expired lease.
        RunAsync("renew", name, epoch, LeaseSql.Renew, cancellationToken,
            Text(_serviceId), Text(name), Uuid(holderId), Long(epoch), Text(activation), Interval(ttl));

    /// <inheritdoc />
    public Task<StoreResult> ReleaseAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, ReleaseReason reason, bool byHolder, int maxStalls, CancellationToken cancellationToken) =>
        // Idempotent: a retry finds the epoch's end event and answers "already released" (counters move once).
        // The grain's own releases (stall, lease-lost) run in the background lane: a fleet dying at once must not
        // take every connection from the holders and acquirers still alive.
        RunAsync("release", name, epoch, LeaseSql.Release, cancellationToken, null, null, byHolder ? DatabaseLane.Foreground : DatabaseLane.Background,
            Text(_serviceId), Text(name), Uuid(holderId), Bytes(key.Hash()), Long(epoch), Text(activation), Text(reason.ToText()),
            Bool(byHolder), Int(maxStalls));

    /// <inheritdoc />
    public Task<IReadOnlyList<StoreResult>> RenewManyAsync(IReadOnlyList<RenewInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inputs);

        // Idempotent for the same reason as a single renewal; a retry renews the same rows again.
        return RunManyAsync("renew-many", inputs.Count, LeaseSql.RenewMany, attemptTimeout, cancellationToken,
            Text(_serviceId),
            ArrayOf(NpgsqlDbType.Text, inputs.Select(i => i.Name)),
            ArrayOf(NpgsqlDbType.Uuid, inputs.Select(i => i.HolderId)),
            ArrayOf(NpgsqlDbType.Bigint, inputs.Select(i => i.Epoch)),
            ArrayOf(NpgsqlDbType.Text, inputs.Select(i => i.Activation)),
            ArrayOf(NpgsqlDbType.Interval, inputs.Select(i => i.Ttl)));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoreResult>> AdoptManyAsync(IReadOnlyList<AdoptInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inputs);

        // Idempotent for the same reason as a single adoption: adopting again by the same activation
        // changes nothing but prev_activation and logs nothing.
        return RunManyAsync("adopt-many", inputs.Count, LeaseSql.AdoptMany, attemptTimeout, cancellationToken,
            Text(_serviceId),
            ArrayOf(NpgsqlDbType.Text, inputs.Select(i => i.Name)),
            ArrayOf(NpgsqlDbType.Uuid, inputs.Select(i => i.HolderId)),
            ArrayOf(NpgsqlDbType.Bytea, inputs.Select(i => i.Key.Hash())),
            ArrayOf(NpgsqlDbType.Bigint, inputs.Select(i => i.Epoch)),
            ArrayOf(NpgsqlDbType.Text, inputs.Select(i => i.Activation)));
    }

    /// <inheritdoc />
    public Task<StoreResult> ForceReleaseAsync(string name, long expectedEpoch, string reason, string by, bool skipDelay, string selfActivation, TimeSpan promiseLeft, TimeSpan margin, CancellationToken cancellationToken) =>
        // Idempotent: conditional on the expected epoch; a retry finds the force-release in history.
        // Its attempt may wait for an epoch guard up to the force-release lock timeout, so the attempt
        // timeout is above it (a lock timeout is a definite Busy answer, never a retry nor a give-up).
        RunAsync("force-release", name, expectedEpoch, LeaseSql.ForceRelease, cancellationToken, _options.ForceReleaseLockTimeout + TimeSpan.FromSeconds(1), StoreOutcome.ForceBusy, DatabaseLane.Foreground,
            Text(_serviceId), Text(name), Long(expectedEpoch), Text(reason), Text(by), Bool(skipDelay), Text(selfActivation),
            Interval(promiseLeft < TimeSpan.Zero ? TimeSpan.Zero : promiseLeft), Interval(margin),
            Int((int)_options.ForceReleaseLockTimeout.TotalMilliseconds));

    /// <inheritdoc />
    public Task<StoreResult> AbandonAsync(string name, Guid holderId, LeaseKey key, CancellationToken cancellationToken) =>
        // Idempotent: the id is spent with ON CONFLICT DO NOTHING; a released grant is not released twice.
        RunAsync("abandon", name, null, LeaseSql.Abandon, cancellationToken, Text(_serviceId), Text(name), Uuid(holderId), Bytes(key.Hash()));

    /// <inheritdoc />
    public Task<StoreResult> ResetAsync(string name, string by, CancellationToken cancellationToken) =>
        // Idempotent: only a dead lock is reset; a retry finds it free and changes nothing.
        RunAsync("reset", name, null, LeaseSql.Reset, cancellationToken, Text(_serviceId), Text(name), Text(by));

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
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var entries = new List<LockHistoryEntry>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(new LockHistoryEntry(
                reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3),
                NullableGuid(reader, 4), NullableString(reader, 5), NullableString(reader, 6), NullableString(reader, 7),
                NullableString(reader, 8), NullableString(reader, 9), reader.GetFieldValue<DateTimeOffset>(10)));
        }

        return entries;
    }

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

    private Task<StoreResult> RunAsync(string operation, string name, long? epoch, string sql, CancellationToken cancellationToken, params NpgsqlParameter[] parameters) =>
        RunAsync(operation, name, epoch, sql, cancellationToken, null, null, DatabaseLane.Foreground, parameters);

    // lockTimeoutAnswer: the statement sets its own lock_timeout, and running into it (55P03) is that answer.
    private Task<StoreResult> RunAsync(string operation, string name, long? epoch, string sql, CancellationToken cancellationToken, TimeSpan? attemptTimeout, StoreOutcome? lockTimeoutAnswer, DatabaseLane lane, params NpgsqlParameter[] parameters) =>
        _resilience.ExecuteAsync(operation, name, epoch, async token =>
        {
            try
            {
                return await RunOnceAsync(sql, parameters, token).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == LockNotAvailable && lockTimeoutAnswer is { } answer)
            {
                return Busy(answer);
            }
        }, cancellationToken, attemptTimeout, lane);

    private async Task<StoreResult> RunOnceAsync(string sql, NpgsqlParameter[] parameters, CancellationToken cancellationToken)
    {
        await using var command = Command(sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException("A lease operation returned no row.");
        }

        return ReadResult(reader, 0);
    }

    private Task<IReadOnlyList<StoreResult>> RunManyAsync(string operation, int count, string sql, TimeSpan attemptTimeout, CancellationToken cancellationToken, params NpgsqlParameter[] parameters) =>
        _resilience.ExecuteAsync<IReadOnlyList<StoreResult>>(operation, null, null, async token =>
        {
            await using var command = Command(sql, parameters);
            await using var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            var results = new StoreResult[count];
            var answered = 0;
            while (await reader.ReadAsync(token).ConfigureAwait(false))
            {
                results[reader.GetInt64(0) - 1] = ReadResult(reader, 1);
                answered++;
            }

            return answered == count
                ? results
                : throw new InvalidOperationException($"A coalesced {operation} answered {answered} of {count} inputs.");
        }, cancellationToken, attemptTimeout);

    private NpgsqlCommand Command(string sql, NpgsqlParameter[] parameters)
    {
        var command = _dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter.Clone());
        }

        return command;
    }

    // One op_result (migration 0001) starting at column <paramref name="at"/>.
    private static StoreResult ReadResult(DbDataReader reader, int at)
    {
        var syncCommit = reader.GetString(at + 13);
        if (syncCommit == "off")
        {
            throw new LeaseStoreConfigurationException(
                "The lease store's database session runs with synchronous_commit = off: an acknowledged grant could be lost and its epoch reissued. " +
                "Set it on for the store's role (ALTER ROLE ... SET synchronous_commit = on) and reconnect; behind a pooler, restart its server connections.");
        }

        return new StoreResult(
            StoreOutcomes.Parse(reader.GetString(at)),
            reader.GetInt64(at + 1),
            NullableGuid(reader, at + 2),
            NullableString(reader, at + 3),
            NullableString(reader, at + 4),
            NullableString(reader, at + 5),
            reader.IsDBNull(at + 6) ? TimeSpan.Zero : reader.GetFieldValue<TimeSpan>(at + 6),
            NullableTime(reader, at + 7),
            reader.GetFieldValue<DateTimeOffset>(at + 8),
            reader.IsDBNull(at + 9) ? null : reader.GetFieldValue<TimeSpan>(at + 9),
            reader.GetInt32(at + 10),
            reader.GetInt32(at + 11),
            NullableString(reader, at + 12));
    }

    private static StoreResult Busy(StoreOutcome outcome) =>
        new(outcome, 0, null, null, null, null, TimeSpan.Zero, null, DateTimeOffset.MinValue, null, 0, 0, "fenced write in flight");

    private static LockInfo ReadLock(DbDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1) switch
        {
            "held" => LockState.Held,
            "dead" => LockState.Dead,
            _ => LockState.Free,
        },
        reader.GetInt64(2),
        NullableGuid(reader, 3),
        NullableString(reader, 4),
        NullableTime(reader, 5),
        NullableTime(reader, 6),
        NullableTime(reader, 7),
        NullableTime(reader, 8),
        reader.GetFieldValue<TimeSpan>(9),
        reader.IsDBNull(10) ? null : reader.GetFieldValue<TimeSpan>(10),
        reader.GetInt32(11),
        reader.GetInt32(12),
        NullableString(reader, 13),
        NullableString(reader, 14),
        true);

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static Guid? NullableGuid(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetGuid(ordinal);

    private static DateTimeOffset? NullableTime(DbDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return null;
        }

        // -infinity / infinity arrive as DateTime.MinValue / MaxValue: "no fence".
        var value = reader.GetFieldValue<DateTime>(ordinal);
        return value == DateTime.MinValue || value == DateTime.MaxValue ? null : new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }

    private static NpgsqlParameter Text(string? value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };

    private static NpgsqlParameter Uuid(Guid value) => new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = value };

    private static NpgsqlParameter Bytes(byte[] value) => new() { NpgsqlDbType = NpgsqlDbType.Bytea, Value = value };

    private static NpgsqlParameter Interval(TimeSpan value) => new() { NpgsqlDbType = NpgsqlDbType.Interval, Value = value };

    private static NpgsqlParameter Int(int value) => new() { NpgsqlDbType = NpgsqlDbType.Integer, Value = value };

    private static NpgsqlParameter Long(long value) => new() { NpgsqlDbType = NpgsqlDbType.Bigint, Value = value };

    private static NpgsqlParameter ArrayOf<T>(NpgsqlDbType elementType, IEnumerable<T> values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | elementType, Value = values.ToArray() };

    private static NpgsqlParameter Bool(bool value) => new() { NpgsqlDbType = NpgsqlDbType.Boolean, Value = value };
}
