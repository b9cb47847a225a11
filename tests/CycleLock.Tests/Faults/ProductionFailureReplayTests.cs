using CycleLock.Tests.Infrastructure;

namespace CycleLock.Tests.Faults;

/// <summary>
/// The failure this project exists to fix, replayed: a transaction-mode PgBouncer reaps every idle client
/// connection between renewals (client_idle_timeout shorter than P), with the pooler-safe prevention off.
/// Renewal path covered: per-lock renewal statements (one per lock per renew period).
/// </summary>
[Collection(PoolerFaultCollection.Name)]
public sealed class ProductionFailureReplayTests(FaultDatabase database) : FaultTestBase(database)
{
    [Fact]
    public async Task PerLockRenewals_PoolerReapsIdleConnectionsBetweenRenewals_HealEveryTimeAndNoLeaseIsLost()
    {
        // TTL 90 s: P = 15 s. The 20 leases are granted P/21 ≈ 0.71 s apart (on a fixed schedule), so
        // consecutive renewals are that far apart: longer than PgBouncer's client_idle_timeout (0.1 s) plus
        // its maintenance period (1/3 s; a connection idle 0.35 s was always reaped here). Every renewal
        // therefore finds its pooled connection reaped, as in production where a renewal runs every few minutes.
        var ttl = TimeSpan.FromSeconds(90);
        const int locks = 20;
        var spacing = ttl / 6 / (locks + 1);
        await using var bouncer = await PgBouncer.StartAsync(Postgres, clientIdleTimeout: TimeSpan.FromMilliseconds(100));
        var serviceId = NewServiceId("replay");
        using var metrics = new DbMetrics(serviceId);
        await using var cluster = await ClusterAsync(serviceId, bouncer.ConnectionString(), poolerSafe: false, coalesce: false);
        var handles = new List<CycleLock.Client.LockHandle>();
        var start = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < locks; i++)
        {
            var wait = (spacing * i) - start.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            handles.AddRange(await AcquireAsync(cluster.Client, $"replay/{i}", 1, ttl));
        }

        var closesBefore = await bouncer.CountLogAsync("client_idle_timeout");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(150);
        while (metrics.Count("cyclelock.db.first_attempts", "renew") < 100 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        await Task.Delay(TimeSpan.FromMilliseconds(200)); // the last statements' retries
        var renewals = metrics.Count("cyclelock.db.first_attempts", "renew");
        var firstAttemptFailures = metrics.Count("cyclelock.db.first_attempts", "renew", "pooler-transient");
        var closes = await bouncer.CountLogAsync("client_idle_timeout") - closesBefore;
        TestContext.Current.SendDiagnosticMessage($"replay (per-lock renewal path): {renewals} renewal statements healed, {firstAttemptFailures} attempts failed with client_idle_timeout, {closes} client_idle_timeout closes in PgBouncer's log; {metrics.Describe()}");

        Assert.True(renewals >= 100, $"only {renewals} renewal statements in the run");
        Assert.True(closes >= renewals, $"PgBouncer closed {closes} idle clients for {renewals} renewal statements");
        Assert.True(firstAttemptFailures >= renewals, $"{firstAttemptFailures} renewal attempts failed under the pooler rule for {renewals} statements: the fault did not bite every statement");
        Assert.Equal(0, metrics.Count("cyclelock.db.giveups"));
        await AssertNoLeaseLostAsync(serviceId, handles, "after the replay");
        await ReleaseAllAsync(handles);
    }
}
