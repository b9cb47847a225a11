using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace CycleLock.Silo;

/// <summary><c>/health</c>: the lease store answers a query within 2 s.</summary>
internal sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await using var command = dataSource.CreateCommand("SELECT current_setting('synchronous_commit')");
            var setting = (string?)await command.ExecuteScalarAsync(timeout.Token);
            return setting == "off"
                ? HealthCheckResult.Unhealthy("synchronous_commit is off for the lease store's role (rule: on)")
                : HealthCheckResult.Healthy($"synchronous_commit = {setting}");
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            // Open to probes: the type and SQLSTATE only, never the message (it names hosts and users).
            return HealthCheckResult.Unhealthy($"the lease store did not answer ({e.GetType().Name}{(e is PostgresException p ? " " + p.SqlState : string.Empty)})");
        }
    }
}

/// <summary><c>/health</c>: this silo is an active member of the cluster; reports the active silos.</summary>
internal sealed class MembershipHealthCheck(IClusterMembershipService membership, ILocalSiloDetails local) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var snapshot = membership.CurrentSnapshot;
        var active = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress.ToString()).ToList();
        var self = snapshot.GetSiloStatus(local.SiloAddress);
        var data = new Dictionary<string, object> { ["active"] = active.Count, ["self"] = self.ToString(), ["version"] = snapshot.Version.Value };
        return Task.FromResult(self == SiloStatus.Active
            ? HealthCheckResult.Healthy($"{active.Count} active silo(s)", data)
            : HealthCheckResult.Unhealthy($"this silo is {self}", data: data));
    }
}
