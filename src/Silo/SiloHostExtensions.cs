using CycleLock.Hosting;
using CycleLock.Leasing;
using CycleLock.Resilience;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace CycleLock.Silo;

/// <summary>How the CycleLock silo host is put together: configuration from appsettings.json,
/// environment variables (<c>CycleLock__...</c>) and the command line.</summary>
public static class SiloHostExtensions
{
    /// <summary>Adds the Orleans silo (localhost clustering for the dev default), CycleLock and the dashboard.</summary>
    public static WebApplicationBuilder AddCycleLockSilo(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        var host = configuration.GetSection("CycleLock:Silo").Get<SiloHostOptions>() ?? new SiloHostOptions();
        var connectionString = configuration["CycleLock:ConnectionString"];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException("CycleLock:ConnectionString is not set (rule: a PostgreSQL connection string, e.g. the environment variable CycleLock__ConnectionString).");
        }

        if (string.IsNullOrEmpty(configuration["urls"]) && string.IsNullOrEmpty(configuration["ASPNETCORE_URLS"]))
        {
            // The dashboard is bound to loopback unless configured otherwise.
            builder.WebHost.UseUrls("http://127.0.0.1:8080");
        }

        builder.UseOrleans(silo =>
        {
            if (string.Equals(configuration["CycleLock:Clustering"], "AdoNet", StringComparison.OrdinalIgnoreCase))
            {
                // Membership in the lease store's PostgreSQL (schema migration 0002), pooler-safe connections.
                silo.UseCycleLockClustering(connectionString);
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ServiceId = host.ServiceId;
                    o.ClusterId = host.ClusterId;
                });
                silo.ConfigureEndpoints(host.SiloPort, host.GatewayPort, listenOnAnyHostAddress: false);
            }
            else
            {
                silo.UseLocalhostClustering(host.SiloPort, host.GatewayPort, serviceId: host.ServiceId, clusterId: host.ClusterId);
            }

            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(2);
                o.NumMissedProbesLimit = 2;
            });
            silo.Services.Configure<DatabaseResilienceOptions>(configuration.GetSection("CycleLock:Resilience"));
            silo.AddCycleLocks(
                store =>
                {
                    configuration.GetSection("CycleLock:Store").Bind(store);
                    store.ConnectionString = connectionString;
                },
                locks =>
                {
                    configuration.GetSection("CycleLock:Locks").Bind(locks);

                    // One localhost silo never fails over to another: the failover floor only warns.
                    locks.FailoverFloor = FailoverFloorMode.Warn;
                });
            silo.AddDashboard();
        });
        return builder;
    }

    /// <summary>Maps the dashboard.</summary>
    public static WebApplication MapCycleLockEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapOrleansDashboard(routePrefix: "/dashboard");
        app.MapGet("/", () => Results.Redirect("/dashboard"));
        return app;
    }
}
