using CycleLock.Leasing;
using CycleLock.Tests.Grains;
using CycleLock.Tests.Infrastructure;
using Orleans.Configuration;

namespace CycleLock.Tests.Sdk;

/// <summary>Two in-process silos configured as the silo host configures a multi-silo deployment: membership
/// ProbeTimeout 2 s and NumMissedProbesLimit 2, EstimatedFailover 7 s, the silo-failover floor enforced
/// (≈ 29.6 s). Every grain call the silos receive is counted.</summary>
public sealed class EnforcedFloorClusterFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    public const int NumMissedProbesLimit = 2;

    public CycleLockCluster Cluster { get; private set; } = null!;

    public GrainCallCounter Calls { get; } = new();

    /// <summary>The floor the silos enforce, from the same options.</summary>
    public TimeSpan Floor { get; } = LeaseTiming.Floor(Configure(new CycleLockOptions()));

    public async ValueTask InitializeAsync()
    {
        Cluster = await CycleLockCluster.StartAsync(postgres, "floor-" + Guid.NewGuid().ToString("N")[..8], "floor", silos: 2,
            locks: o => Configure(o),
            silo: silo =>
            {
                silo.AddIncomingGrainCallFilter(Calls);
                silo.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = ProbeTimeout;
                    o.NumMissedProbesLimit = NumMissedProbesLimit;
                });
            });
    }

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();

    private static CycleLockOptions Configure(CycleLockOptions options)
    {
        options.FailoverFloor = FailoverFloorMode.Enforce;
        options.EstimatedFailover = (ProbeTimeout * (NumMissedProbesLimit + 1)) + TimeSpan.FromSeconds(1);
        return options;
    }
}
