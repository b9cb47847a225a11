using System.Net;
using CycleLock.Client;
using CycleLock.Leasing;
using CycleLock.Persistence;
using CycleLock.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace CycleLock.Tests.SiloHost;

/// <summary>Issue 13, defect 9, end to end: a silo host on ADO.NET membership with the shipped membership
/// tuning enforces the silo-failover floor (≈ 29.6 s); a worker host whose DefaultTtl is below it is refused
/// at start with the floor and the settings behind it, and a started worker refuses a shorter TTL before
/// sending anything.</summary>
[Collection(HostCollection.Name)]
public sealed class TtlFloorHostTests(SiloHostFixture fixture)
{
    [Fact]
    public async Task AdoNetSilo_WorkerHostWithDefaultTtlBelowTheFloor_DoesNotStart_AtTheFloorStartsAndRefusesLess()
    {
        var postgres = fixture.Postgres;
        await MigrationRunner.MigrateAsync(postgres.DataSource); // membership tables before the first AdoNet silo
        var serviceId = "floor-" + Guid.NewGuid().ToString("N")[..8];
        var clusterId = "floor-" + Guid.NewGuid().ToString("N")[..8];
        var floor = LeaseTiming.Floor(new CycleLockOptions { EstimatedFailover = TimeSpan.FromSeconds(7) }); // 2 s × (2 + 1) + 1 s
        await using var silo = SiloProcess.Start(postgres.ConnectionString, serviceId, new Dictionary<string, string>
        {
            ["CycleLock:Silo:Clustering"] = "AdoNet",
            ["CycleLock:Silo:ClusterId"] = clusterId,
        });
        await silo.WaitHealthyAsync(TimeSpan.FromSeconds(90));

        using (var refused = WorkerHost(silo.GatewayPort, serviceId, clusterId, TimeSpan.FromSeconds(12)))
        {
            var e = await Assert.ThrowsAsync<OptionsValidationException>(() => refused.StartAsync(TestContext.Current.CancellationToken));
            TestContext.Current.SendDiagnosticMessage(e.Message);
            Assert.Contains($"CycleLock:Client:DefaultTtl = 00:00:12 is below the cluster's TTL floor {floor}", e.Message, StringComparison.Ordinal);
            Assert.Contains("silo failover", e.Message, StringComparison.Ordinal);
            Assert.Contains("EstimatedFailover 00:00:07", e.Message, StringComparison.Ordinal);
            Assert.Contains("ProbeTimeout 00:00:02", e.Message, StringComparison.Ordinal);
            Assert.Contains("NumMissedProbesLimit 2", e.Message, StringComparison.Ordinal);
            Assert.Contains("CycleLock:Silo:ProbeTimeout", e.Message, StringComparison.Ordinal);
            Assert.Contains("CycleLock:Silo:NumMissedProbesLimit", e.Message, StringComparison.Ordinal);
            await refused.StopAsync(TestContext.Current.CancellationToken);
        }

        using var started = WorkerHost(silo.GatewayPort, serviceId, clusterId, floor);
        await started.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var locks = started.Services.GetRequiredService<CycleLockClient>();
            var name = "floor/" + Guid.NewGuid().ToString("N")[..8];
            var below = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => locks.TryAcquireAsync(name, TimeSpan.FromSeconds(12)));
            Assert.Contains($"TTL 00:00:12 is below the floor {floor}", below.Message, StringComparison.Ordinal);
            Assert.Contains("CycleLock:Silo:ProbeTimeout", below.Message, StringComparison.Ordinal);
            var granted = await locks.TryAcquireAsync(name);
            Assert.True(granted.Acquired, granted.ToString());
            await granted.Handle!.ReleaseAsync();
        }
        finally
        {
            await started.StopAsync(TestContext.Current.CancellationToken);
        }
    }

    private static IHost WorkerHost(int gateway, string serviceId, string clusterId, TimeSpan defaultTtl)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddCycleLockClient(
            c =>
            {
                c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gateway));
                c.Configure<ClusterOptions>(o =>
                {
                    o.ServiceId = serviceId;
                    o.ClusterId = clusterId;
                });
            },
            o =>
            {
                o.HolderLabel = "floor-worker";
                o.DefaultTtl = defaultTtl;
            });
        return builder.Build();
    }
}
