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
public sealed partial class PostgresLeaseStore : ILeaseStore, IBatchLeaseStore
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
            return Overloaded();
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
    public Task<IReadOnlyList<StoreResult>> ChangeManyAsync(IReadOnlyList<ChangeInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inputs);

        // Idempotent as each single-row operation is: a retry after a batch in doubt re-grants the same holder and key
        // ("reacquired", the same epoch), finds a release's end event ("already released"), spends an id again.
        return RunManyAsync("change-many", inputs.Count, LeaseSql.ChangeMany, attemptTimeout, cancellationToken,
            Text(_serviceId),
            ArrayOf(NpgsqlDbType.Text, inputs.Select(i => i.Kind switch { ChangeKind.Acquire => "acquire", ChangeKind.Release => "release", _ => "abandon" })),
            ArrayOf(NpgsqlDbType.Text, inputs.Select(i => i.Name)),
            ArrayOf(NpgsqlDbType.Uuid, inputs.Select(i => i.HolderId)),
            ArrayOf(NpgsqlDbType.Text, inputs.Select(i => i.Label)),
            ArrayOf(NpgsqlDbType.Bytea, inputs.Select(i => i.Key.Hash())),
            ArrayOf(NpgsqlDbType.Interval, inputs.Select(i => i.Ttl)),
            ArrayOf(NpgsqlDbType.Bigint, inputs.Select(i => i.Epoch)),
            ArrayOf(NpgsqlDbType.Text, inputs.Select(i => i.Activation)),
            ArrayOf(NpgsqlDbType.Text, inputs.Select(i => i.Reason.ToText())),
            ArrayOf(NpgsqlDbType.Boolean, inputs.Select(i => i.ByHolder)),
            ArrayOf(NpgsqlDbType.Integer, inputs.Select(i => i.MaxStalls)),
            Int((int)_options.GrantLockTimeout.TotalMilliseconds));
    }

    /// <summary>What an acquire refused because the silo's database work is at its bound is answered: busy, retry
    /// after a moment — not a timeout. Nothing was sent.</summary>
    internal static StoreResult Overloaded() => Busy(StoreOutcome.BusyOverloaded) with { Remaining = OverloadRetryAfter };

    /// <inheritdoc />
    public Task<StoreResult> ForceReleaseAsync(string name, long expectedEpoch, string reason, string by, string operatorName, bool skipDelay, string selfActivation, TimeSpan promiseLeft, TimeSpan margin, CancellationToken cancellationToken) =>
        // Idempotent: conditional on the expected epoch; a retry finds the force-release in history.
        // Its attempt may wait for an epoch guard up to the force-release lock timeout, so the attempt
        // timeout is above it (a lock timeout is a definite Busy answer, never a retry nor a give-up).
        RunAsync("force-release", name, expectedEpoch, LeaseSql.ForceRelease, cancellationToken, _options.ForceReleaseLockTimeout + TimeSpan.FromSeconds(1), StoreOutcome.ForceBusy, DatabaseLane.Foreground,
            Text(_serviceId), Text(name), Long(expectedEpoch), Text(reason), Text(by), Bool(skipDelay), Text(selfActivation),
            Interval(promiseLeft < TimeSpan.Zero ? TimeSpan.Zero : promiseLeft), Interval(margin),
            Int((int)_options.ForceReleaseLockTimeout.TotalMilliseconds), Text(operatorName));

    /// <inheritdoc />
    public Task<StoreResult> AbandonAsync(string name, Guid holderId, LeaseKey key, CancellationToken cancellationToken) =>
        // Idempotent: the id is spent with ON CONFLICT DO NOTHING; a released grant is not released twice.
        RunAsync("abandon", name, null, LeaseSql.Abandon, cancellationToken, Text(_serviceId), Text(name), Uuid(holderId), Bytes(key.Hash()));

    /// <inheritdoc />
    public Task<StoreResult> ResetAsync(string name, string by, string operatorName, CancellationToken cancellationToken) =>
        // Idempotent: only a dead lock is reset; a retry finds it free and changes nothing.
        RunAsync("reset", name, null, LeaseSql.Reset, cancellationToken, Text(_serviceId), Text(name), Text(by), Text(operatorName));

    private Task<StoreResult> RunAsync(string operation, string name, long? epoch, string sql, CancellationToken cancellationToken, params NpgsqlParameter[] parameters) =>
        RunAsync(operation, name, epoch, sql, cancellationToken, null, null, DatabaseLane.Foreground, parameters);

    // lockTimeoutAnswer: the statement sets its own lock_timeout, and running into it (55P03) is that answer — on the
    // first attempt only. After an attempt whose outcome is in doubt (it may have committed), a lock timeout says
    // nothing about that attempt: it stays an error (permanent, not retried), so a force-release in doubt is never
    // reported as a definite Busy (the grain would serve the epoch again) and an acquire is retried by its holder id.
    private Task<StoreResult> RunAsync(string operation, string name, long? epoch, string sql, CancellationToken cancellationToken, TimeSpan? attemptTimeout, StoreOutcome? lockTimeoutAnswer, DatabaseLane lane, params NpgsqlParameter[] parameters)
    {
        var attempts = 0;
        return _resilience.ExecuteAsync(operation, name, epoch, async token =>
        {
            var first = Interlocked.Increment(ref attempts) == 1;
            try
            {
                return await RunOnceAsync(sql, parameters, token).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == LockNotAvailable && lockTimeoutAnswer is { } answer && first)
            {
                return Busy(answer);
            }
        }, cancellationToken, attemptTimeout, lane);
    }

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
}
