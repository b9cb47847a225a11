using System.Net;
using CycleLock.Client;
using CycleLock.Silo;
using CycleLock.Testing;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace CycleLock.Tests.Security;

/// <summary>Access and TLS tests share one silo process with mutual TLS (a throwaway CA) and credentials
/// configured: an operator, a worker limited to <c>billing/*</c>, a worker limited to <c>reports/*</c>.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AccessCollection : ICollectionFixture<AccessClusterFixture>
{
    public const string Name = "access";
}

public sealed class AccessClusterFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public const string OperatorSecret = "op-3f9c1d7e5a2b4c6d8e0f";
    public const string BillingSecret = "bill-7c2e9a4f1b3d5e6f7a8b";
    public const string ReportsSecret = "rep-1a2b3c4d5e6f7a8b9c0d";

    private readonly List<IHost> _clients = [];

    /// <summary>The certificates: <c>ca</c>, <c>silo</c>, <c>client</c> (valid, from the cluster's CA), <c>stranger</c>
    /// (valid, from another CA, which also trusts the cluster's CA), <c>expired</c> (from the cluster's CA, expired).</summary>
    public string Certificates { get; } = Path.Combine(Path.GetTempPath(), "cyclelock-tls-" + Guid.NewGuid().ToString("N")[..8]);

    public SiloProcess Silo { get; private set; } = null!;

    public string ServiceId { get; } = "access-" + Guid.NewGuid().ToString("N")[..8];

    public PostgresFixture Postgres => postgres;

    public CycleLockClient Operator { get; private set; } = null!;

    public CycleLockClient Billing { get; private set; } = null!;

    public CycleLockClient Reports { get; private set; } = null!;

    /// <summary>The Orleans client under <see cref="Operator"/>.</summary>
    public IClusterClient OperatorCluster { get; private set; } = null!;

    /// <summary>The Orleans client under <see cref="Billing"/>.</summary>
    public IClusterClient BillingCluster { get; private set; } = null!;

    /// <summary>An Orleans client without a credential.</summary>
    public IClusterClient Anonymous { get; private set; } = null!;

    /// <summary>The client TLS settings for certificate <paramref name="name"/>.</summary>
    public CycleLockTlsOptions Tls(string name) => new()
    {
        CertificateFile = Path.Combine(Certificates, name + ".crt"),
        KeyFile = Path.Combine(Certificates, name + ".key"),
        CaFile = Path.Combine(Certificates, "ca.crt"),
    };

    public async ValueTask InitializeAsync()
    {
        var now = DateTimeOffset.UtcNow;
        using (var ca = DevCertificates.CreateCa("access test CA", now.AddDays(-2), now.AddDays(2)))
        using (var other = DevCertificates.CreateCa("another CA", now.AddDays(-2), now.AddDays(2)))
        {
            DevCertificates.Write(ca, Certificates, "ca");
            using var silo = DevCertificates.Issue(ca, "access-silo", server: true, now.AddDays(-1), now.AddDays(1));
            using var client = DevCertificates.Issue(ca, "access-client", server: false, now.AddDays(-1), now.AddDays(1));
            using var stranger = DevCertificates.Issue(other, "stranger", server: false, now.AddDays(-1), now.AddDays(1));
            using var expired = DevCertificates.Issue(ca, "expired-client", server: false, now.AddDays(-1), now.AddHours(-1));
            DevCertificates.Write(silo, Certificates, "silo");
            DevCertificates.Write(client, Certificates, "client");
            DevCertificates.Write(stranger, Certificates, "stranger");
            DevCertificates.Write(expired, Certificates, "expired");
        }

        Silo = SiloProcess.Start(postgres.ConnectionString, ServiceId, new Dictionary<string, string>
        {
            ["CycleLock:Tls:CertificateFile"] = Path.Combine(Certificates, "silo.crt"),
            ["CycleLock:Tls:KeyFile"] = Path.Combine(Certificates, "silo.key"),
            ["CycleLock:Tls:CaFile"] = Path.Combine(Certificates, "ca.crt"),
            ["CycleLock:Access:Credentials:ops:Secret"] = OperatorSecret,
            ["CycleLock:Access:Credentials:ops:Role"] = "Operator",
            ["CycleLock:Access:Credentials:billing:Secret"] = BillingSecret,
            ["CycleLock:Access:Credentials:billing:Prefixes:0"] = "billing/*",
            ["CycleLock:Access:Credentials:reports:Secret"] = ReportsSecret,
            ["CycleLock:Access:Credentials:reports:Prefixes:0"] = "reports/*",
            ["CycleLock:Access:Credentials:reports:Prefixes:1"] = "shared",
        });
        await Silo.WaitHealthyAsync(TimeSpan.FromSeconds(90));
        (Operator, OperatorCluster) = await ConnectAsync("ops:" + OperatorSecret);
        (Billing, BillingCluster) = await ConnectAsync("billing:" + BillingSecret);
        Reports = (await ConnectAsync("reports:" + ReportsSecret)).Locks;
        Anonymous = (await ConnectAsync(null)).Client;
    }

    /// <summary>A client of this silo presenting <paramref name="credential"/> (none when null).</summary>
    public async Task<(CycleLockClient Locks, IClusterClient Client)> ConnectAsync(string? credential, Action<IClientBuilder>? transport = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddCycleLockClient(
            c =>
            {
                c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, Silo.GatewayPort));
                c.UseConnectionRetryFilter((_, _) => Task.FromResult(false)); // a refused connection fails the start at once
                if (transport is not null)
                {
                    transport(c);
                }
                else
                {
                    c.UseCycleLockTls(Tls("client"));
                }

                c.Configure<ClusterOptions>(o =>
                {
                    o.ServiceId = ServiceId;
                    o.ClusterId = "test";
                });
            },
            o =>
            {
                o.HolderLabel = "access-" + (credential?.Split(':')[0] ?? "none");
                o.Credential = credential;
            });
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            host.Dispose();
            throw;
        }

        lock (_clients)
        {
            _clients.Add(host);
        }

        return (host.Services.GetRequiredService<CycleLockClient>(), host.Services.GetRequiredService<IClusterClient>());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.StopAsync();
            client.Dispose();
        }

        await Silo.DisposeAsync();
        Directory.Delete(Certificates, recursive: true);
    }
}
