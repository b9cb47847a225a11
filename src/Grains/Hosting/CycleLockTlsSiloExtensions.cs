using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;

namespace CycleLock.Hosting;

/// <summary>Mutual TLS for a silo's silo-to-silo links and its gateway.</summary>
public static class CycleLockTlsSiloExtensions
{
    /// <summary>Loads and checks the certificate and CA of <paramref name="options"/> now (throws
    /// <see cref="CycleLockTlsException"/> naming the setting) and requires a certificate issued by that CA from
    /// every other silo and every client; refusals are logged with the peer's subject and why.</summary>
    public static ISiloBuilder UseCycleLockTls(this ISiloBuilder builder, CycleLockTlsOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var (certificate, ca) = CycleLockTls.Load(options, CycleLockTlsOptions.SiloSection);
        var refusals = new TlsRefusalLog();
        builder.UseTls(certificate, tls => CycleLockTls.Configure(tls, certificate, ca, refusals.Refused));
        builder.Configure<SiloConnectionOptions>(o =>
        {
            o.ConfigureGatewayInboundConnection(connection => refusals.Attach(connection.ApplicationServices));
            o.ConfigureSiloInboundConnection(connection => refusals.Attach(connection.ApplicationServices));
        });
        builder.Services.AddSingleton(refusals);
        return builder;
    }
}
