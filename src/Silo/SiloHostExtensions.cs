using System.Net;
using System.Text.Json;
using CycleLock.Hosting;
using CycleLock.Leasing;
using CycleLock.Resilience;
using CycleLock.Security;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using OpenTelemetry.Metrics;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace CycleLock.Silo;

/// <summary>How the CycleLock silo host is put together: configuration from appsettings.json,
/// environment variables (<c>CycleLock__...</c>) and the command line (<c>--CycleLock:Silo:GatewayPort=30001</c>).</summary>
public static class SiloHostExtensions
{
    /// <summary>
    /// Adds the Orleans silo (localhost clustering by default, ADO.NET membership on PostgreSQL with
    /// <c>CycleLock:Silo:Clustering=AdoNet</c>), CycleLock, the Orleans Dashboard, health checks and the
    /// OpenTelemetry meter with a Prometheus endpoint. Invalid settings throw
    /// <see cref="SiloConfigurationException"/> naming each key before anything starts; the timing budget is
    /// checked when the host starts.
    /// </summary>
    public static WebApplicationBuilder AddCycleLockSilo(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        var host = new SiloHostOptions();
        var web = new WebOptions();
        var access = new AccessOptions();
        var tls = new CycleLockTlsOptions();
        try
        {
            configuration.GetSection(SiloHostOptions.Section).Bind(host);
            configuration.GetSection(WebOptions.Section).Bind(web);
            configuration.GetSection(AccessOptions.Section).Bind(access);
            configuration.GetSection(CycleLockTlsOptions.SiloSection).Bind(tls);

            // Bound here once too, so an unparsable value in any section stops the start naming its key.
            configuration.GetSection(CycleLockOptions.Section).Bind(new CycleLockOptions());
            configuration.GetSection(CycleLock.Persistence.LeaseStoreOptions.Section).Bind(new CycleLock.Persistence.LeaseStoreOptions());
            configuration.GetSection(DatabaseResilienceOptions.Section).Bind(new DatabaseResilienceOptions());
        }
        catch (InvalidOperationException e)
        {
            throw new SiloConfigurationException($"Invalid CycleLock silo configuration: {e.Message}", e);
        }

        if (configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            throw new SiloConfigurationException("Invalid CycleLock silo configuration: Kestrel:Endpoints is set (rule: bind the web host with CycleLock:Web:Url, so the loopback and authentication rules see the real address).");
        }

        var connectionString = configuration["CycleLock:ConnectionString"];
        SiloHostOptionsValidator.ThrowIfInvalid(host, web, connectionString, access, tls);
        builder.Services.AddSingleton(web);
        builder.Services.AddCycleLockAntiforgery();

        // Host-header allow-list (ASP.NET Core's host filtering, which the web host already runs): 400 for any other host.
        builder.Services.PostConfigure<Microsoft.AspNetCore.HostFiltering.HostFilteringOptions>(o =>
        {
            o.AllowedHosts = [.. web.AllowedHostList()];
            o.AllowEmptyHosts = false;
        });
        builder.WebHost.UseUrls(web.Url);
        var multiSilo = host.Clustering == "AdoNet";

        builder.UseOrleans(silo =>
        {
            if (multiSilo)
            {
                // Membership in the lease store's PostgreSQL (schema migration 0002), pooler-safe connections.
                silo.UseCycleLockClustering(connectionString!);
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ServiceId = host.ServiceId;
                    o.ClusterId = host.ClusterId;
                });
                if (host.Kubernetes)
                {
                    // The pod's name, IP and the ServiceId/ClusterId labels come from the Deployment (deploy/kubernetes);
                    // the ports stay the configured ones.
                    silo.UseKubernetesHosting();
                    silo.Configure<EndpointOptions>(o =>
                    {
                        o.SiloPort = host.SiloPort;
                        o.GatewayPort = host.GatewayPort;
                    });
                }
                else
                {
                    silo.ConfigureEndpoints(IPAddress.Parse(host.AdvertisedAddress), host.SiloPort, host.GatewayPort, listenOnAnyHostAddress: false);
                    if (host.GatewayListeningPort is { } listening)
                    {
                        silo.Configure<EndpointOptions>(o => o.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Parse(host.AdvertisedAddress), listening));
                    }
                }
            }
            else
            {
                silo.UseLocalhostClustering(host.SiloPort, host.GatewayPort, serviceId: host.ServiceId, clusterId: host.ClusterId);
            }

            // Tuned so failover fits the timing budget: T_failover ≈ ProbeTimeout × (NumMissedProbesLimit + 1) + 1 s.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = host.ProbeTimeout;
                o.NumMissedProbesLimit = host.NumMissedProbesLimit;
            });
            silo.Services.Configure<DatabaseResilienceOptions>(configuration.GetSection(DatabaseResilienceOptions.Section));
            silo.Services.Configure<AccessOptions>(configuration.GetSection(AccessOptions.Section));
            if (tls.Enabled)
            {
                // Checked by the validator above (files, key, validity, CA); every silo and client must present a certificate from the CA.
                silo.UseCycleLockTls(tls);
            }
            silo.AddCycleLocks(
                store =>
                {
                    configuration.GetSection(CycleLock.Persistence.LeaseStoreOptions.Section).Bind(store);
                    store.ConnectionString = connectionString!;
                },
                locks =>
                {
                    configuration.GetSection(CycleLockOptions.Section).Bind(locks);
                    locks.EstimatedFailover = host.EstimatedFailover;

                    // A single localhost silo never fails over to another: there the failover floor only warns.
                    locks.FailoverFloor = multiSilo ? FailoverFloorMode.Enforce : FailoverFloorMode.Warn;
                });
            silo.AddDashboard();
        });

        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database")
            .AddCheck<MembershipHealthCheck>("membership", tags: ["live"]);
        // CycleLock's meter, the database pipeline's retries and breaker changes (Polly's resilience events; its per-call
        // duration histograms are dropped: a recording on every statement of the hot path, and CycleLock's own attempt
        // counts and renewal latency already say it), and Npgsql's own (pool size and waits, command durations,
        // connection timeouts), side by side.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(CycleLockMetrics.MeterName)
            .AddMeter("Polly")
            .AddView("resilience.polly.pipeline.duration", MetricStreamConfiguration.Drop)
            .AddView("resilience.polly.strategy.attempt.duration", MetricStreamConfiguration.Drop)
            .AddNpgsqlInstrumentation()
            .AddPrometheusExporter());
        return builder;
    }

    /// <summary>Maps the dashboard (<c>/dashboard</c>), the lease view (<c>/leases</c>), <c>/health</c> (readiness:
    /// database and membership), <c>/health/live</c> (membership only) and <c>/metrics</c> (Prometheus); the
    /// dashboard and the lease view sit behind basic authentication when a password is configured.</summary>
    public static WebApplication MapCycleLockEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseCycleLockSecurityHeaders();
        app.UseCycleLockAuthentication(app.Services.GetRequiredService<WebOptions>());
        app.UseCycleLockAntiforgery();
        app.UseCycleLockDashboardLink();
        app.MapOrleansDashboard(routePrefix: "/dashboard");
        app.MapLeaseView();
        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteHealthAsync });

        // Liveness is membership only: a database outage must not get silos restarted (leases outlive it).
        app.MapHealthChecks("/health/live", new HealthCheckOptions { ResponseWriter = WriteHealthAsync, Predicate = check => check.Tags.Contains("live") });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/", () => Results.Redirect("/leases"));
        return app;
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), e.Value.Description, e.Value.Data }),
        }));
    }
}
