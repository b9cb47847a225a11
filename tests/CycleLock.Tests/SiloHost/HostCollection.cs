using System.Net;
using CycleLock.Client;
using CycleLock.Testing;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace CycleLock.Tests.SiloHost;

/// <summary>Tests of the silo host, the CLI and the lease view against a silo running as its own process,
/// one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostCollection : ICollectionFixture<SiloHostFixture>
{
    public const string Name = "host";
}

/// <summary>One silo process (localhost clustering, the web host behind basic authentication, a database
/// login with a password) and an Orleans client in the test process connected to its gateway.</summary>
public sealed class SiloHostFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public const string User = "operator";
    public const string Password = "host-web-7Qm2xV9pLk";

    /// <summary>The operator credential the silo knows, the test client's and the CLI's (<c>CYCLELOCK_CREDENTIAL</c>).</summary>
    public const string OperatorCredential = "ops:host-operator-5d1e8c2a9b7f";

    /// <summary>A worker credential for <c>cli-*</c> names: it may acquire, never force-release.</summary>
    public const string WorkerCredential = "cliworker:host-worker-8e4b2f6a1c3d";

    /// <summary>The silo's database login: a role of its own whose password the server requires.</summary>
    public string DatabaseRole { get; } = "hostsilo" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The database password in the silo's connection string: a secret the silo must never show.</summary>
    public string DatabasePassword { get; } = "Pw" + Guid.NewGuid().ToString("N");

    /// <summary>The silo's connection string (with <see cref="DatabasePassword"/>).</summary>
    public string SiloConnectionString { get; private set; } = string.Empty;

    private IHost? _client;

    public PostgresFixture Postgres => postgres;

    public string ServiceId { get; } = "host-" + Guid.NewGuid().ToString("N")[..8];

    public SiloProcess Silo { get; private set; } = null!;

    public CycleLockClient Locks { get; private set; } = null!;

    public string[] Gateway => ["--gateway", Silo.GatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--service-id", ServiceId, "--cluster-id", "test"];

    public async ValueTask InitializeAsync()
    {
        SiloConnectionString = await postgres.CreatePasswordLoginAsync(DatabaseRole, DatabasePassword);
        Silo = SiloProcess.Start(SiloConnectionString, ServiceId, new Dictionary<string, string>
        {
            ["CycleLock:Web:User"] = User,
            ["CycleLock:Web:Password"] = Password,
            ["Logging:LogLevel:CycleLock"] = "Debug",
            ["CycleLock:Locks:AllowSkipDelay"] = "true", // the CLI and lease view tests force-release without the fence
            ["CycleLock:Access:Credentials:ops:Secret"] = OperatorCredential.Split(':')[1],
            ["CycleLock:Access:Credentials:ops:Role"] = "Operator",
            ["CycleLock:Access:Credentials:cliworker:Secret"] = WorkerCredential.Split(':')[1],
            ["CycleLock:Access:Credentials:cliworker:Prefixes:0"] = "cli-*",
        });
        await Silo.WaitHealthyAsync(TimeSpan.FromSeconds(90));
        _client = await ConnectAsync(ServiceId, [Silo.GatewayPort], "host-tests");
        Locks = _client.Services.GetRequiredService<CycleLockClient>();
    }

    public static async Task<IHost> ConnectAsync(string serviceId, int[] gateways, string label, string clusterId = "test", string? credential = OperatorCredential)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddCycleLockClient(
            c =>
            {
                c.UseStaticClustering([.. gateways.Select(p => new IPEndPoint(IPAddress.Loopback, p))]);
                c.Configure<ClusterOptions>(o =>
                {
                    o.ServiceId = serviceId;
                    o.ClusterId = clusterId;
                });
            },
            o =>
            {
                o.HolderLabel = label;
                o.Credential = credential;
            });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync();
            _client.Dispose();
        }

        await Silo.DisposeAsync();
        await postgres.DropLoginAsync(DatabaseRole);
    }
}
