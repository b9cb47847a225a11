using CycleLock.Hosting;
using CycleLock.Leasing;
using CycleLock.Persistence;
using CycleLock.Tests.Infrastructure;
using Orleans.TestingHost;

namespace CycleLock.Tests.Grains;

/// <summary>An in-process Orleans cluster whose silos use the real PostgreSQL lease store.</summary>
public sealed class CycleLockCluster : IAsyncDisposable
{
    private CycleLockCluster(InProcessTestCluster cluster, string serviceId)
    {
        Cluster = cluster;
        ServiceId = serviceId;
    }

    public InProcessTestCluster Cluster { get; }

    public string ServiceId { get; }

    public IClusterClient Client => Cluster.Client;

    public static async Task<CycleLockCluster> StartAsync(PostgresFixture postgres, string serviceId, string clusterId, short silos = 1, Action<LeaseStoreOptions>? store = null, Action<CycleLockOptions>? locks = null, Action<ISiloBuilder>? silo = null)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.Options.ServiceId = serviceId;
        builder.Options.ClusterId = clusterId;
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, siloBuilder) =>
        {
            siloBuilder.AddCycleLocks(
                options =>
                {
                    options.ConnectionString = postgres.ConnectionString;
                    store?.Invoke(options);
                },
                options =>
                {
                    options.FailoverFloor = FailoverFloorMode.Warn;
                    locks?.Invoke(options);
                });
            silo?.Invoke(siloBuilder);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new CycleLockCluster(cluster, serviceId);
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}
