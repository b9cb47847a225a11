using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace CycleLock;

/// <summary>Loads and checks the certificates of <see cref="CycleLockTlsOptions"/> and applies them to Orleans'
/// <see cref="TlsOptions"/>: both sides require the other's certificate, and a peer is accepted only when its
/// certificate chains to the configured CA alone (never the system's roots) and is valid now.</summary>
public static class CycleLockTls
{
    /// <summary>The certificate and CA of <paramref name="options"/>, checked now; <paramref name="section"/> names
    /// the settings in errors. Throws <see cref="CycleLockTlsException"/>.</summary>
    public static (X509Certificate2 Certificate, X509Certificate2Collection Ca) Load(CycleLockTlsOptions options, string section, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var now = (time ?? TimeProvider.System).GetUtcNow();
        var certificate = LoadCertificate(options, section);
        if (!certificate.HasPrivateKey)
        {
            throw new CycleLockTlsException($"{section}: the certificate {certificate.Subject} has no private key (rule: a PEM key in {section}:KeyFile or in the certificate file, or a store entry with its key).");
        }

        if (certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime)
        {
            throw new CycleLockTlsException($"{section}: the certificate {certificate.Subject} expired at {certificate.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)} (rule: a certificate valid now; issue a new one).");
        }

        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
        {
            throw new CycleLockTlsException($"{section}: the certificate {certificate.Subject} is not valid before {certificate.NotBefore.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)} (rule: a certificate valid now).");
        }

        if (string.IsNullOrWhiteSpace(options.CaFile))
        {
            throw new CycleLockTlsException($"{section}:CaFile is not set (rule: the PEM certificate of the CA every peer's certificate must chain to).");
        }

        var ca = new X509Certificate2Collection();
        try
        {
            ca.ImportFromPemFile(options.CaFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new CycleLockTlsException($"{section}:CaFile = '{options.CaFile}' cannot be read as PEM certificates: {e.Message}", e);
        }

        if (ca.Count == 0)
        {
            throw new CycleLockTlsException($"{section}:CaFile = '{options.CaFile}' holds no certificate (rule: PEM CERTIFICATE blocks).");
        }

        if (Verify(certificate, ca, now) is { } own)
        {
            throw new CycleLockTlsException($"{section}: the certificate {certificate.Subject} does not chain to {section}:CaFile ({own}) (rule: this side's certificate is issued by the cluster's CA, as every peer's must be).");
        }

        return (certificate, ca);
    }

    /// <summary>Sets Orleans' TLS options: this side's <paramref name="certificate"/>, a certificate required from
    /// every peer, and peers checked against <paramref name="ca"/> only; <paramref name="refused"/> hears each refusal
    /// (the peer's subject and why).</summary>
    public static void Configure(TlsOptions tls, X509Certificate2 certificate, X509Certificate2Collection ca, Action<string, string>? refused = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(tls);
        tls.LocalCertificate = certificate;
        tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        tls.SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;

        // A cluster's peers are who the CA vouches for; host names are not checked (silos and clients reach each
        // other by addresses that change), so the chain to the cluster's own CA is the whole decision.
        tls.RemoteCertificateValidation = (peer, _, _) =>
        {
            var why = Verify(peer, ca, (time ?? TimeProvider.System).GetUtcNow());
            if (why is not null)
            {
                refused?.Invoke(peer.Subject, why);
            }

            return why is null;
        };
    }

    /// <summary>Null when <paramref name="certificate"/> chains to <paramref name="ca"/> (and only to it) and is valid at
    /// <paramref name="now"/>; otherwise why not, e.g. <c>expired at 2026-12-01 10:00:00Z</c>.</summary>
    public static string? Verify(X509Certificate2 certificate, X509Certificate2Collection ca, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(ca);
        if (certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime)
        {
            return $"expired at {certificate.NotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)}";
        }

        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
        {
            return $"not valid before {certificate.NotBefore.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)}";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        if (chain.Build(certificate))
        {
            return null;
        }

        return "not issued by the cluster's CA (" + string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct()) + ")";
    }

    private static X509Certificate2 LoadCertificate(CycleLockTlsOptions options, string section)
    {
        if (!string.IsNullOrWhiteSpace(options.CertificateFile))
        {
            try
            {
                return string.IsNullOrWhiteSpace(options.KeyFile)
                    ? X509Certificate2.CreateFromPemFile(options.CertificateFile)
                    : X509Certificate2.CreateFromPemFile(options.CertificateFile, options.KeyFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                throw new CycleLockTlsException($"{section}:CertificateFile = '{options.CertificateFile}'{(string.IsNullOrWhiteSpace(options.KeyFile) ? string.Empty : $" with KeyFile = '{options.KeyFile}'")} cannot be loaded: {e.Message} (rule: a PEM certificate and its PEM private key).", e);
            }
        }

        if (string.IsNullOrWhiteSpace(options.CertificateSubject))
        {
            throw new CycleLockTlsException($"{section}: no certificate (rule: CertificateFile, or CertificateSubject of a store entry).");
        }

        using var store = new X509Store(StoreName.My, options.StoreLocation);
        store.Open(OpenFlags.ReadOnly | OpenFlags.OpenExistingOnly);
        var found = store.Certificates.Find(X509FindType.FindBySubjectDistinguishedName, options.CertificateSubject, validOnly: false);
        return found.Count switch
        {
            0 => throw new CycleLockTlsException($"{section}:CertificateSubject = '{options.CertificateSubject}' is not in the {options.StoreLocation}/My store (rule: the subject's exact distinguished name)."),
            _ => found.OrderByDescending(c => c.NotAfter).First(),
        };
    }
}
