using Orleans.Configuration;

namespace CycleLock.Client;

/// <summary>Mutual TLS for an Orleans client's gateway connections.</summary>
public static class CycleLockTlsClientExtensions
{
    /// <summary>Loads and checks the certificate and CA of <paramref name="options"/> now (throws
    /// <see cref="CycleLockTlsException"/> naming the setting — e.g. an expired certificate) and connects to gateways
    /// only over TLS, presenting that certificate and accepting a silo only with a certificate from the same CA.
    /// <c>AddCycleLockClient</c> on a host builder calls it when <c>CycleLock:Client:Tls</c> names a certificate.</summary>
    public static IClientBuilder UseCycleLockTls(this IClientBuilder builder, CycleLockTlsOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var (certificate, ca) = CycleLockTls.Load(options, CycleLockTlsOptions.ClientSection);
        var refusals = new TlsRefusalLog();
        builder.UseTls(certificate, tls => CycleLockTls.Configure(tls, certificate, ca, refusals.Refused));
        builder.Configure<ClientConnectionOptions>(o => o.ConfigureConnection(connection => refusals.Attach(connection.ApplicationServices)));
        return builder;
    }
}
