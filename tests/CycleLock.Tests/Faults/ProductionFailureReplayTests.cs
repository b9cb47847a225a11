using CycleLock.Testing;
using CycleLock.Tests.Infrastructure;

namespace CycleLock.Tests.Faults;

/// <summary>
/// The failure this project exists to fix, replayed: a transaction-mode PgBouncer reaps every idle client
/// connection between renewals (client_idle_timeout shorter than P), with the pooler-safe prevention off.
/// Renewal path covered: per-lock renewal statements (one per lock per renew period). Asserted: the fault bites
/// most statements, and no failure costs a statement or a lease.
/// </summary>
[Collection(PoolerFaultCollection.Name)]
public sealed class ProductionFailureReplayTests(FaultDatabase database) : FaultTestBase(database)
{
    [Fact]
    public async Task PerLockRenewals_PoolerReapsIdleConnectionsBetweenRenewals_EveryFailureHealsAndNoLeaseIsLost()
    {
        // TTL 90 s: P = 15 s. The 20 leases are granted P/21 ≈ 0.71 s apart (on a fixed schedule), so
        // consecutive renewals are that far apart: longer than PgBouncer's client_idle_timeout (0.1 s) plus
        // its maintenance period (1/3 s; a connection idle 0.35 s was always reaped here). So renewals find their
        // pooled connection reaped, as in production where a renewal runs every few minutes.
        var ttl = TimeSpan.FromSeconds(90);
        const int locks = 20;
        var spacing = ttl / 6 / (locks + 1);
        await using var bouncer = await PgBouncer.StartAsync(Postgres.Port, clientIdleTimeout: TimeSpan.FromMilliseconds(100));
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

        // Every renewal statement started so far ends in a success: the ones whose first attempt failed are
        // healed by their retry (on a loaded machine that can take longer than a fixed pause).
        var firstAttempts = metrics.ByDetail("cyclelock.db.first_attempts", "renew");
        var renewals = firstAttempts.Values.Sum();
        await Wait.UntilAsync(() => metrics.Count("cyclelock.db.attempts", "renew", "success") >= renewals, TimeSpan.FromSeconds(30), $"{renewals} renewal statements to succeed");
        var firstAttemptFailures = firstAttempts.GetValueOrDefault("pooler-transient");
        var retries = metrics.Count(DbMetrics.Retries, "renew");
        var closes = await bouncer.CountLogAsync("client_idle_timeout") - closesBefore;
        TestContext.Current.SendDiagnosticMessage($"replay (per-lock renewal path): {renewals} renewal statements healed, {firstAttemptFailures} first attempts failed with client_idle_timeout, {retries} retries, {closes} client_idle_timeout closes in PgBouncer's log; {metrics.Describe()}");

        // The fault bit as in production: most renewal statements found their pooled connection reaped (the
        // pooler rule, each with a close in PgBouncer's log). Not necessarily every statement: on a loaded
        // machine two renewals can come close enough to share a connection before PgBouncer reaps it.
        Assert.True(renewals >= 100, $"only {renewals} renewal statements in the run");
        Assert.True(firstAttemptFailures * 2 >= renewals, $"only {firstAttemptFailures} of {renewals} renewal statements failed their first attempt under the pooler rule: the replay did not reproduce the failure");
        Assert.True(closes >= firstAttemptFailures, $"PgBouncer closed {closes} idle clients for {firstAttemptFailures} failed first attempts");

        // And none cost anything: each failure was retried, no statement gave up, no lease was lost.
        Assert.True(retries >= firstAttemptFailures, $"{retries} retries for {firstAttemptFailures} failed first attempts");
        Assert.Equal(0, metrics.Count("cyclelock.db.giveups"));
        await AssertNoLeaseLostAsync(serviceId, handles, "after the replay");
        await ReleaseAllAsync(handles);
    }
}
