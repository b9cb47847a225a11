using System.Collections.Concurrent;
using CycleLock.Persistence;
using CycleLock.Resilience;
using CycleLock.Tests.Grains;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CycleLock.Tests.Sdk;

/// <summary>Real-time SDK tests run one at a time on one cluster whose silo counts every lease statement
/// (per lock) and every grain call (per method and holder label), and records every offer sent to a waiter.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SdkCollection : ICollectionFixture<SdkClusterFixture>
{
    public const string Name = "sdk";
}

public sealed class SdkClusterFixture(PostgresFixture postgres) : IAsyncLifetime
{
    private ControllableLeaseStore? _store;

    public CycleLockCluster Cluster { get; private set; } = null!;

    public PostgresFixture Postgres => postgres;

    public GrainCallCounter Calls { get; } = new();

    public OfferRecorder Offers { get; } = new();

    /// <summary>The silo's lease store (created with the first grain activation).</summary>
    public ControllableLeaseStore Store => _store ?? throw new InvalidOperationException("No grain has used the store yet.");

    public async ValueTask InitializeAsync()
    {
        var serviceId = "sdk-" + Guid.NewGuid().ToString("N")[..8];
        Cluster = await CycleLockCluster.StartAsync(postgres, serviceId, "sdk",
            locks: o =>
            {
                o.EventPollInterval = TimeSpan.FromMilliseconds(200);
                o.AllowSkipDelay = true; // the guard tests force-release without the fence
            },
            silo: silo =>
            {
                silo.AddIncomingGrainCallFilter(Calls);
                silo.AddOutgoingGrainCallFilter(Offers);
                silo.Services.Replace(ServiceDescriptor.Singleton<ILeaseStore>(sp =>
                    _store = new ControllableLeaseStore(new PostgresLeaseStore(
                        sp.GetRequiredService<NpgsqlDataSource>(),
                        serviceId,
                        sp.GetRequiredService<IOptions<LeaseStoreOptions>>().Value,
                        sp.GetRequiredService<DatabaseResilience>()))));
            });
    }

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>Counts grain calls as the silo receives them: an independent record of what clients sent.</summary>
public sealed class GrainCallCounter : IIncomingGrainCallFilter
{
    public ConcurrentQueue<(string Method, string? Label, Guid? Id, long Timestamp)> Calls { get; } = new();

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        (string? Label, Guid? Id) who = context.Request.GetArgumentCount() > 0
            ? context.Request.GetArgument(0) switch
            {
                WaitRequest w => (w.HolderLabel, w.WaiterId),
                AcquireRequest a => (a.HolderLabel, a.WaiterId),
                ReleaseRequest r => (r.Reason.ToText(), r.HolderId),
                Guid g => (null, g),
                _ => (null, null),
            }
            : (null, null);
        Calls.Enqueue((context.MethodName, who.Label, who.Id, TimeProvider.System.GetTimestamp()));
        await context.Invoke();
    }

    public int Count(string method, string label) => Calls.Count(c => c.Method == method && c.Label == label);
}
