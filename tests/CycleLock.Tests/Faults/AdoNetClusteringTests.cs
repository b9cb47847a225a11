using CycleLock.Client;
using CycleLock.Hosting;
using CycleLock.Leasing;
using CycleLock.Testing;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace CycleLock.Tests.Faults;

/// <summary>
/// The project's own membership schema with the real ADO.NET clustering provider, behind a
/// transaction-mode PgBouncer with pooler-safe connections: silos join, gateways are listed, a lock
/// works through the client, and a killed silo is marked dead.
/// </summary>
[Collection(PoolerFaultCollection.Name)]
public sealed class AdoNetClusteringTests(FaultDatabase database)
{
    private const string ConnectionKey = "CycleLockTestConnection";

    [Fact]
    public async Task TwoSilosBehindPgBouncer_JoinListGatewaysServeLocksAndMarkAKilledSiloDead()
    {
        await using var bouncer = await PgBouncer.StartAsync(database.Postgres.Port, clientIdleTimeout: TimeSpan.FromSeconds(10));
        var clusterId = "adonet-" + Guid.NewGuid().ToString("N")[..8];
        var builder = new TestClusterBuilder(2);
        builder.Options.ServiceId = clusterId;
        builder.Options.ClusterId = clusterId;
        builder.Options.UseTestClusterMembership = false;
        builder.Properties[ConnectionKey] = bouncer.ConnectionString();
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            Assert.Equal(2, await CountAsync(clusterId, status: 3));
            Assert.Equal(2, await CountGatewaysAsync(clusterId));

            var locks = new CycleLockClient(cluster.Client);
            var result = await locks.TryAcquireAsync("adonet/job", TimeSpan.FromSeconds(10));
            Assert.True(result.Acquired, result.Reply.Status.ToString());
            await result.Handle!.DisposeAsync();

            await cluster.KillSiloAsync(cluster.SecondarySilos[0]);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
            while (await CountAsync(clusterId, status: 6) < 1 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }

            Assert.Equal(1, await CountAsync(clusterId, status: 6));
            Assert.Equal(1, await CountAsync(clusterId, status: 3));
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private async Task<long> CountAsync(string clusterId, int status)
    {
        await using var command = database.Postgres.DataSource.CreateCommand("SELECT count(*) FROM cyclelock.orleans_membership WHERE deploymentid = $1 AND status = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = clusterId });
        command.Parameters.Add(new NpgsqlParameter { Value = status });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> CountGatewaysAsync(string clusterId)
    {
        await using var command = database.Postgres.DataSource.CreateCommand("SELECT count(*) FROM cyclelock.orleans_membership WHERE deploymentid = $1 AND status = 3 AND proxyport > 0");
        command.Parameters.Add(new NpgsqlParameter { Value = clusterId });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var connection = siloBuilder.Configuration[ConnectionKey]!;
            siloBuilder.UseCycleLockClustering(connection);
            siloBuilder.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
            });
            siloBuilder.AddCycleLocks(
                store =>
                {
                    store.ConnectionString = connection;
                    store.RunMigrations = false;
                },
                locks => locks.FailoverFloor = FailoverFloorMode.Warn);
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.UseCycleLockClustering(configuration[ConnectionKey]!);
    }
}
