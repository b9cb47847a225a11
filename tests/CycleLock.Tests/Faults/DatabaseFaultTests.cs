using System.Diagnostics;
using CycleLock.Client;
using CycleLock.Persistence;
using CycleLock.Resilience;
using CycleLock.Testing;
using CycleLock.Tests.Infrastructure;
using Npgsql;

namespace CycleLock.Tests.Faults;

/// <summary>Database faults shorter than the budget cost no lease; longer ones are reported once.</summary>
[Collection(PoolerFaultCollection.Name)]
public sealed class DatabaseFaultTests(FaultDatabase database) : FaultTestBase(database)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task TerminateEveryBackendEvery500msFor10s_LocksHeldAndRenewed_NoLeaseLost()
    {
        var serviceId = NewServiceId("terminate");
        using var metrics = new DbMetrics(serviceId);
        await using var cluster = await ClusterAsync(serviceId, Postgres.ConnectionString);
        var handles = await AcquireAsync(cluster.Client, "terminate", 10, Ttl);

        await using var killer = Postgres.CreateDataSource();
        var terminated = 0L;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < until)
        {
            await using var command = killer.CreateCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'");
            terminated += (long)(await command.ExecuteScalarAsync())!;
            await Task.Delay(500);
        }

        Postgres.DataSource.Clear();
        TestContext.Current.SendDiagnosticMessage($"terminate storm: {terminated} backends terminated; {metrics.Describe()}");
        // Coalesced renewals and grants keep few connections open (one statement per flush, ~1 a second here), so few
        // backends exist to kill in each round; the retries below show the storm hit statements in flight.
        Assert.True(terminated >= 5, $"only {terminated} backends terminated");
        Assert.True(metrics.Count(DbMetrics.Retries) > 0, "no renewal needed a retry: the storm did not bite");
        await AssertNoLeaseLostAsync(serviceId, handles, "after the terminate storm");
        await ReleaseAllAsync(handles);
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("immediate")]
    public async Task PostgresRestartShorterThanBudget_BehindPgBouncer_NoLeaseLostNoAcknowledgedWriteMissing(string mode)
    {
        await using var bouncer = await PgBouncer.StartAsync(Postgres.Port);
        var serviceId = NewServiceId("restart-" + mode);
        using var metrics = new DbMetrics(serviceId);
        await using var cluster = await ClusterAsync(serviceId, bouncer.ConnectionString());
        var handles = await AcquireAsync(cluster.Client, "restart", 10, Ttl);
        await Task.Delay(Ttl / 6 * 1.5); // at least one renewal each

        // PAUSE lets in-flight statements finish and holds new ones, so every acknowledged renewal is in
        // the state read here; the restart must not lose any of them.
        await bouncer.PauseAsync();
        var before = await RenewedAtAsync(serviceId);
        var took = await Postgres.RestartAsync(mode, TimeSpan.FromSeconds(2));
        var after = await RenewedAtAsync(serviceId);
        await bouncer.ResumeAsync();
        await Task.Delay(Ttl / 2);
        var budget = LeaseBudget();
        TestContext.Current.SendDiagnosticMessage($"restart -m {mode} took {took.TotalMilliseconds:0} ms (budget TTL − P − m = {budget.TotalSeconds:0.00} s); {metrics.Describe()}");
        Assert.True(took < budget, $"the restart took {took} (budget {budget})");
        Assert.True(metrics.Renewals("cyclelock.db.attempts") - metrics.Renewals("cyclelock.db.attempts", "success") > 0, "no renewal attempt failed across the pause and restart: the fault did not bite");
        Assert.Equal(10, before.Count);
        foreach (var (name, renewedAt) in before)
        {
            Assert.True(after.TryGetValue(name, out var now) && now == renewedAt, $"{name}: acknowledged renewal at {renewedAt:HH:mm:ss.fff} missing after the restart (found {now:HH:mm:ss.fff})");
        }

        await AssertNoLeaseLostAsync(serviceId, handles, $"after restart -m {mode}");
        await ReleaseAllAsync(handles);
    }

    [Fact]
    public async Task PgBouncerRestart_NoLeaseLost()
    {
        await using var bouncer = await PgBouncer.StartAsync(Postgres.Port);
        var serviceId = NewServiceId("bouncer-restart");
        using var metrics = new DbMetrics(serviceId);
        await using var cluster = await ClusterAsync(serviceId, bouncer.ConnectionString());
        var handles = await AcquireAsync(cluster.Client, "bouncer", 10, Ttl);
        await Task.Delay(Ttl / 6);

        await bouncer.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        await bouncer.StartAsync();
        await Task.Delay(Ttl / 2);

        TestContext.Current.SendDiagnosticMessage($"pgbouncer restart (2 s down): {metrics.Describe()}");
        Assert.True(metrics.Renewals(DbMetrics.Retries) > 0, "no renewal met the restart");
        await AssertNoLeaseLostAsync(serviceId, handles, "after the PgBouncer restart");
        await ReleaseAllAsync(handles);
    }

    [Fact]
    public async Task DatabaseStallOfSixTenthsTtl_KeepAliveP99Under100ms_HolderSeesJeopardyNotLoss()
    {
        await using var bouncer = await PgBouncer.StartAsync(Postgres.Port);
        var serviceId = NewServiceId("stall");
        await using var cluster = await ClusterAsync(serviceId, bouncer.ConnectionString());
        var handles = await AcquireAsync(cluster.Client, "stall", 3, Ttl);
        var jeopardy = 0;
        foreach (var handle in handles)
        {
            handle.StateChanged += (_, state) =>
            {
                if (state == LockHandleState.InJeopardy)
                {
                    Interlocked.Increment(ref jeopardy);
                }
            };
        }

        var grain = cluster.Client.GetGrain<ICycleLockGrain>("stall/raw");
        var request = new AcquireRequest(Guid.NewGuid(), "raw", LeaseKey.New(), Ttl);
        var grant = await grain.TryAcquireAsync(request);
        var keepAlive = new KeepAliveRequest(request.HolderId, request.Key, grant.Epoch);
        await Task.Delay(Ttl / 6);

        await bouncer.PauseAsync();
        var latencies = new List<double>();
        var stallUntil = DateTime.UtcNow + (Ttl * 0.6);
        while (DateTime.UtcNow < stallUntil)
        {
            var watch = Stopwatch.StartNew();
            var reply = await grain.KeepAliveAsync(keepAlive);
            latencies.Add(watch.Elapsed.TotalMilliseconds);
            Assert.True(reply.Status == KeepAliveStatus.Held, $"keep-alive during the stall answered {reply.Status}");
            await Task.Delay(20);
        }

        await bouncer.ResumeAsync();
        await Task.Delay(Ttl / 3);

        latencies.Sort();
        var p99 = latencies[(int)Math.Ceiling(latencies.Count * 0.99) - 1];
        TestContext.Current.SendDiagnosticMessage($"stall of {Ttl * 0.6}: keep-alive n={latencies.Count} p50={latencies[latencies.Count / 2]:0.0} ms p99={p99:0.0} ms; jeopardy events {jeopardy}");
        Assert.True(p99 < 100, $"keep-alive p99 {p99:0.0} ms during the stall");
        Assert.True(jeopardy > 0, "no holder saw jeopardy during a 6 s stall");
        await AssertNoLeaseLostAsync(serviceId, handles, "after the stall");
        Assert.All(handles, h => Assert.Equal(LockHandleState.Held, h.State));
        await ReleaseAllAsync(handles);
    }

    [Fact]
    public async Task PermanentErrors_WrongPasswordOrUnknownDatabase_FailAtOnceWithoutRetries()
    {
        await using var bouncer = await PgBouncer.StartAsync(Postgres.Port, authType: "md5", password: "right-secret");
        var cases = new[]
        {
            ("wrong password via PgBouncer", bouncer.ConnectionString(password: "wrong-secret")),
            ("unknown database via PgBouncer", bouncer.ConnectionString(password: "right-secret", database: "nosuchdb")),
            ("unknown database direct", new NpgsqlConnectionStringBuilder(Postgres.ConnectionString) { Database = "nosuchdb" }.ConnectionString),
        };

        foreach (var (what, connectionString) in cases)
        {
            var serviceId = NewServiceId("permanent");
            using var metrics = new DbMetrics(serviceId);
            var options = new LeaseStoreOptions { ConnectionString = connectionString };
            await using var dataSource = LeaseStoreDataSource.Create(options);
            var store = new PostgresLeaseStore(dataSource, serviceId, options, new DatabaseResilience(dataSource, new DatabaseResilienceOptions(), scope: serviceId));
            using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(10));

            var watch = Stopwatch.StartNew();
            var error = await Assert.ThrowsAnyAsync<NpgsqlException>(() => store.AcquireAsync("permanent", Guid.NewGuid(), "p", LeaseKey.New(), Ttl, "act", budget.Token));

            TestContext.Current.SendDiagnosticMessage($"{what}: {error.GetType().Name} '{error.Message}' after {watch.ElapsedMilliseconds} ms; {metrics.Describe()}");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"{what}: took {watch.Elapsed}");
            Assert.Equal(1, metrics.Count("cyclelock.db.attempts", "acquire"));
            Assert.Equal(0, metrics.Count(DbMetrics.Retries));
            Assert.Equal(ErrorClass.Permanent, TransientErrorMatcher.Classify(error).Class);
            Assert.True(error.Message.Contains("password", StringComparison.OrdinalIgnoreCase) || error.Message.Contains("database", StringComparison.OrdinalIgnoreCase), $"{what}: unclear message '{error.Message}'");
        }
    }

    [Fact]
    public async Task OutageLongerThanBudget_LostExactlyOnceNeverHeldAfterDeadlineAndAcquireWorksAfter()
    {
        await using var bouncer = await PgBouncer.StartAsync(Postgres.Port);
        var serviceId = NewServiceId("outage");
        using var metrics = new DbMetrics(serviceId);
        await using var cluster = await ClusterAsync(serviceId, bouncer.ConnectionString());
        var grain = cluster.Client.GetGrain<ICycleLockGrain>("outage/job");
        var request = new AcquireRequest(Guid.NewGuid(), "outage", LeaseKey.New(), Ttl);
        var grant = await grain.TryAcquireAsync(request);
        var keepAlive = new KeepAliveRequest(request.HolderId, request.Key, grant.Epoch);
        var replies = new List<(DateTimeOffset Sent, DateTimeOffset Received, KeepAliveReply Reply)>();
        using var stop = new CancellationTokenSource();
        var pinger = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var sent = DateTimeOffset.UtcNow;
                var reply = await grain.KeepAliveAsync(keepAlive);
                lock (replies)
                {
                    replies.Add((sent, DateTimeOffset.UtcNow, reply));
                }

                await Task.Delay(100);
            }
        });
        await Task.Delay(Ttl / 6);

        await bouncer.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        var expiresAt = await ExpiresAtAsync(serviceId, "outage/job");
        await Task.Delay(Ttl + TimeSpan.FromSeconds(1));
        await bouncer.StartAsync();
        await Task.Delay(TimeSpan.FromSeconds(6));
        await stop.CancelAsync();
        await pinger;

        var margin = CycleLock.Leasing.LeaseTiming.For(Ttl, new CycleLock.Leasing.CycleLockOptions()).Margin;
        var lastHeld = replies.Where(r => r.Reply.Status == KeepAliveStatus.Held).Max(r => r.Received);
        TestContext.Current.SendDiagnosticMessage($"outage: expires_at {expiresAt:HH:mm:ss.fff}, D_g ≤ {expiresAt - margin:HH:mm:ss.fff}, last held answer {lastHeld:HH:mm:ss.fff}, answers after: {string.Join(",", replies.Where(r => r.Received > lastHeld).Select(r => r.Reply.Status).Distinct())}; {metrics.Describe()}");
        Assert.True(lastHeld <= expiresAt - margin, $"a grain answered held at {lastHeld:HH:mm:ss.fff}, after D_g ≤ {expiresAt - margin:HH:mm:ss.fff}");
        Assert.All(replies.Where(r => r.Reply.Status == KeepAliveStatus.Held), r => Assert.True(r.Sent + r.Reply.ValidFor <= expiresAt - margin, $"promise from {r.Sent:HH:mm:ss.fff} for {r.Reply.ValidFor} passes D_g"));
        var history = await grain.GetHistoryAsync(100, null);
        var end = Assert.Single(history, h => h.Epoch == grant.Epoch && h.Event is "released" or "lost" or "expired" or "force-released");
        Assert.True(end.Event is "lost" or "expired", $"end event {end.Event}");
        Assert.Equal(KeepAliveStatus.Lost, (await grain.KeepAliveAsync(keepAlive)).Status);

        var next = await grain.TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "after", LeaseKey.New(), Ttl));
        Assert.Equal(AcquireStatus.Granted, next.Status);
    }

    private static TimeSpan LeaseBudget() => CycleLock.Leasing.LeaseTiming.For(Ttl, new CycleLock.Leasing.CycleLockOptions()).DatabaseFaultBudget;

    private async Task<Dictionary<string, DateTimeOffset>> RenewedAtAsync(string serviceId)
    {
        Postgres.DataSource.Clear();
        await using var command = Postgres.DataSource.CreateCommand("SELECT name, renewed_at FROM cyclelock.lease WHERE service_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<string, DateTimeOffset>();
        while (await reader.ReadAsync())
        {
            rows[reader.GetString(0)] = reader.GetFieldValue<DateTimeOffset>(1);
        }

        return rows;
    }

    private async Task<DateTimeOffset> ExpiresAtAsync(string serviceId, string name)
    {
        await using var command = Postgres.DataSource.CreateCommand("SELECT expires_at FROM cyclelock.lease WHERE service_id = $1 AND name = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        return new DateTimeOffset(DateTime.SpecifyKind((DateTime)(await command.ExecuteScalarAsync())!, DateTimeKind.Utc));
    }
}
