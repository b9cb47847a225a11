using System.Diagnostics;
using CycleLock.Client;
using CycleLock.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CycleLock.Tests.SiloHost;

/// <summary>The SDK's retries against real silo processes: a gateway that refuses connections for a second,
/// and the silo serving a lease killed with kill -9 just as its holder releases it.</summary>
[Collection(HostCollection.Name)]
public sealed class ClientRetryTests(SiloHostFixture fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task GatewayRefusedForOneSecond_ReleaseAndAcquireRetriedUntilItIsBack()
    {
        var serviceId = "retry-" + Guid.NewGuid().ToString("N")[..8];
        var (advertised, listening) = (Ports.Free(), Ports.Free());
        await using var proxy = new TcpProxy(advertised, listening);
        var clusterId = "retry-" + Guid.NewGuid().ToString("N")[..8];
        await using var silo = SiloProcess.Start(fixture.Postgres.ConnectionString, serviceId,
            new Dictionary<string, string>
            {
                ["CycleLock:Silo:Clustering"] = "AdoNet", // a gateway listening elsewhere than it advertises needs it
                ["CycleLock:Silo:ClusterId"] = clusterId,
                ["CycleLock:Silo:GatewayListeningPort"] = listening.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
            gatewayPort: advertised);
        await silo.WaitHealthyAsync(TimeSpan.FromSeconds(90));
        using var client = await SiloHostFixture.ConnectAsync(serviceId, [advertised], "retry-holder", clusterId);
        var locks = client.Services.GetRequiredService<CycleLockClient>();
        var held = await locks.TryAcquireAsync($"retry/{serviceId}/held", Ttl);
        Assert.True(held.Acquired, held.ToString());

        proxy.RefuseFor(TimeSpan.FromSeconds(1));
        var started = Stopwatch.GetTimestamp();
        var release = held.Handle!.ReleaseAsync();
        var acquire = locks.TryAcquireAsync($"retry/{serviceId}/other", Ttl);
        var released = await release;
        var acquired = await acquire;
        var took = Stopwatch.GetElapsedTime(started);

        TestContext.Current.SendDiagnosticMessage($"gateway refused for 1 s ({proxy.Resets} connections reset): release and acquire answered after {took.TotalSeconds:0.0} s");
        Assert.True(proxy.Resets > 0, "no connection was reset: the refusal did not bite");
        Assert.Equal(ReleaseStatus.Released, released!.Status);
        Assert.True(acquired.Acquired, acquired.ToString());
        Assert.Equal("completed", await LastEndAsync(serviceId, $"retry/{serviceId}/held"));
        await acquired.Handle!.DisposeAsync();
    }

    [Fact]
    public async Task ServingSiloKilledDuringRelease_ReleaseReachesTheSurvivorAndTheLockIsFreeAtOnce()
    {
        var postgres = fixture.Postgres;
        var serviceId = "retry-" + Guid.NewGuid().ToString("N")[..8];
        var clusterId = "retry-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string>
        {
            ["CycleLock:Silo:Clustering"] = "AdoNet",
            ["CycleLock:Silo:ClusterId"] = clusterId,
            ["CycleLock:Silo:ProbeTimeout"] = "00:00:02",
            ["CycleLock:Silo:NumMissedProbesLimit"] = "2",
        };
        var silos = new List<SiloProcess> { SiloProcess.Start(postgres.ConnectionString, serviceId, settings), SiloProcess.Start(postgres.ConnectionString, serviceId, settings) };
        try
        {
            await Task.WhenAll(silos.Select(s => s.WaitHealthyAsync(TimeSpan.FromSeconds(90))));
            using var client = await SiloHostFixture.ConnectAsync(serviceId, [.. silos.Select(s => s.GatewayPort)], "retry-holder", clusterId);
            var locks = client.Services.GetRequiredService<CycleLockClient>();

            // Leases served by both silos, released all at once just after one silo is killed: whichever gateway a
            // release goes through and wherever the grain lived, every release must reach a live activation.
            var handles = new List<LockHandle>();
            for (var i = 0; i < 20; i++)
            {
                var result = await locks.TryAcquireAsync($"retry/{serviceId}/{i}", Ttl);
                Assert.True(result.Acquired, result.ToString());
                handles.Add(result.Handle!);
            }

            var victims = new List<string>();
            foreach (var handle in handles)
            {
                if ((await ActivationAsync(serviceId, handle.Name)).Contains($"127.0.0.1:{silos[1].SiloPort}:", StringComparison.Ordinal))
                {
                    victims.Add(handle.Name);
                }
            }

            var onVictim = victims.Count;
            Assert.True(onVictim > 0, "no lease was served by the silo to be killed: the test would prove nothing");
            await silos[1].KillAsync();
            var killed = Stopwatch.GetTimestamp();
            var releases = handles.Select(async h =>
            {
                var reply = await h.ReleaseAsync();
                return (h.Name, reply, Took: Stopwatch.GetElapsedTime(killed));
            }).ToList();
            var results = await Task.WhenAll(releases);
            TestContext.Current.SendDiagnosticMessage(
                $"serving silo killed ({onVictim} of {handles.Count} leases there): every release answered within {results.Max(r => r.Took).TotalSeconds:0.0} s");

            foreach (var (name, reply, _) in results)
            {
                Assert.True(reply?.Status == ReleaseStatus.Released, $"{name}: release answered {reply?.Status.ToString() ?? "nothing"}");
                Assert.Equal("completed", await LastEndAsync(serviceId, name));
            }

            var next = await locks.TryAcquireAsync(victims[0], Ttl); // a lease the killed silo served
            Assert.True(next.Acquired, $"a released lock was not free at once: {next}");
            await next.Handle!.DisposeAsync();
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private async Task<string> ActivationAsync(string serviceId, string name)
    {
        await using var command = fixture.Postgres.DataSource.CreateCommand("SELECT COALESCE(activation, '') FROM cyclelock.lease WHERE service_id = $1 AND name = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private async Task<string?> LastEndAsync(string serviceId, string name)
    {
        await using var command = fixture.Postgres.DataSource.CreateCommand(
            "SELECT reason FROM cyclelock.history WHERE service_id = $1 AND name = $2 AND is_end ORDER BY id DESC LIMIT 1");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        return await command.ExecuteScalarAsync() as string;
    }
}
