using CycleLock.Tests.Infrastructure;

namespace CycleLock.Tests.Grains;

/// <summary>Real-time grain tests run one at a time (they measure time windows) on one shared cluster.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RealTimeCollection : ICollectionFixture<RealTimeClusterFixture>
{
    public const string Name = "real-time";
}

public sealed class RealTimeClusterFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public CycleLockCluster Cluster { get; private set; } = null!;

    public PostgresFixture Postgres => postgres;

    public async ValueTask InitializeAsync() =>
        Cluster = await CycleLockCluster.StartAsync(postgres, "rt-" + Guid.NewGuid().ToString("N")[..8], "rt");

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}
