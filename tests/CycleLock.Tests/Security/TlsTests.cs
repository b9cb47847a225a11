using CycleLock.Client;
using CycleLock.Silo;
using CycleLock.Testing;
using CycleLock.Tests.Infrastructure;
using Orleans.Runtime.Messaging;

namespace CycleLock.Tests.Security;

/// <summary>
/// Mutual TLS between clients and the gateway (issue 15): the silo of <see cref="AccessClusterFixture"/> presents a
/// certificate from a throwaway CA and requires one from the same CA of every client. A client without a certificate,
/// with one from another CA, or with an expired one cannot connect; the silo logs why; an expired certificate of the
/// SDK's own is refused before it connects, naming the setting and the date.
/// </summary>
[Collection(AccessCollection.Name)]
public sealed class TlsTests(AccessClusterFixture fixture)
{
    [Fact]
    public async Task Client_WithTheClustersCertificate_Connects()
    {
        var (locks, _) = await fixture.ConnectAsync("billing:" + AccessClusterFixture.BillingSecret);
        var name = "billing/tls-" + Guid.NewGuid().ToString("N")[..8];
        await using var handle = (await locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30))).Handle!;
        Assert.Equal(name, handle.Name);
    }

    [Fact]
    public async Task Client_WithoutACertificate_CannotConnect()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => fixture.ConnectAsync("ops:" + AccessClusterFixture.OperatorSecret, transport: _ => { }));
        Assert.IsType<ConnectionFailedException>(error, exactMatch: false);
    }

    [Fact]
    public async Task Client_WithACertificateFromAnotherCa_CannotConnect_AndTheSiloSaysWhy()
    {
        var stranger = fixture.Tls("stranger");
        using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(stranger.CertificateFile!, stranger.KeyFile);
        var (_, ca) = CycleLockTls.Load(fixture.Tls("client"), "test");

        // Presented with Orleans' own TLS (CycleLockTls.Load would refuse a certificate that does not chain to the CA).
        var error = await Assert.ThrowsAnyAsync<Exception>(() => fixture.ConnectAsync("ops:" + AccessClusterFixture.OperatorSecret, transport: c =>
            c.UseTls(certificate, tls => CycleLockTls.Configure(tls, certificate, ca))));

        Assert.IsType<ConnectionFailedException>(error, exactMatch: false);
        await Wait.UntilAsync(() => fixture.Silo.Output.Contains("certificate CN=stranger is not issued by the cluster's CA", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the silo logs why it refused the certificate");
    }

    [Fact]
    public async Task ExpiredCertificate_TheSdkRefusesItNamingTheDate_AndTheSiloRefusesItsConnection()
    {
        var expired = fixture.Tls("expired");
        var sdk = await Assert.ThrowsAsync<CycleLockTlsException>(() => fixture.ConnectAsync("ops:" + AccessClusterFixture.OperatorSecret, transport: c => c.UseCycleLockTls(expired)));
        Assert.Contains("CycleLock:Client:Tls: the certificate CN=expired-client expired at", sdk.Message, StringComparison.Ordinal);

        using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(expired.CertificateFile!, expired.KeyFile);
        var (_, ca) = CycleLockTls.Load(fixture.Tls("client"), "test");
        var raw = await Assert.ThrowsAnyAsync<Exception>(() => fixture.ConnectAsync("ops:" + AccessClusterFixture.OperatorSecret, transport: c =>
            c.UseTls(certificate, tls => CycleLockTls.Configure(tls, certificate, ca))));
        Assert.IsType<ConnectionFailedException>(raw, exactMatch: false);
        await Wait.UntilAsync(() => fixture.Silo.Output.Contains("certificate CN=expired-client is expired at", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the silo logs why it refused the certificate");
    }

    [Fact]
    public async Task Silo_WithAnExpiredCertificate_RefusesToStart_NamingTheSettingAndTheDate()
    {
        var now = DateTimeOffset.UtcNow;
        var directory = Path.Combine(fixture.Certificates, "expired-silo");
        using (var ca = DevCertificates.CreateCa("expired silo CA", now.AddDays(-3), now.AddDays(1)))
        using (var silo = DevCertificates.Issue(ca, "old-silo", server: true, now.AddDays(-2), now.AddDays(-1)))
        {
            DevCertificates.Write(ca, directory, "ca");
            DevCertificates.Write(silo, directory, "silo");
        }

        await using var process = SiloProcess.Start(fixture.Postgres.ConnectionString, "expired-" + Guid.NewGuid().ToString("N")[..6], new Dictionary<string, string>
        {
            ["CycleLock:Tls:CertificateFile"] = Path.Combine(directory, "silo.crt"),
            ["CycleLock:Tls:KeyFile"] = Path.Combine(directory, "silo.key"),
            ["CycleLock:Tls:CaFile"] = Path.Combine(directory, "ca.crt"),
        });

        Assert.Equal(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("CycleLock:Tls: the certificate CN=old-silo expired at", process.Output, StringComparison.Ordinal);
    }
}
