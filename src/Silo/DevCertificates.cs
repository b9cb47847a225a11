using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CycleLock.Silo;

/// <summary>
/// A throwaway certificate authority and certificates issued by it, for a local cluster and tests
/// (<c>CycleLock.Silo tls-certs --out DIR</c>): never for production, where the organisation's CA issues them.
/// Keys are ECDSA P-256; silo certificates serve and present (server and client authentication), client
/// certificates present.
/// </summary>
public static class DevCertificates
{
    /// <summary>A self-signed CA valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>.</summary>
    public static X509Certificate2 CreateCa(string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    /// <summary>A certificate for <paramref name="name"/> issued by <paramref name="ca"/> (which must hold its key),
    /// for a silo (<paramref name="server"/>: server and client authentication) or a client (client authentication).</summary>
    public static X509Certificate2 Issue(X509Certificate2 ca, string name, bool server, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        ArgumentNullException.ThrowIfNull(ca);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var usages = new OidCollection { new Oid("1.3.6.1.5.5.7.3.2") }; // client authentication
        if (server)
        {
            usages.Add(new Oid("1.3.6.1.5.5.7.3.1")); // server authentication
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName(name);
            request.CertificateExtensions.Add(names.Build());
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(ca, notBefore, notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes <paramref name="certificate"/> to <c>DIR/NAME.crt</c> and its private key to <c>DIR/NAME.key</c>
    /// (mode 0600 where the file system has modes).</summary>
    public static void Write(X509Certificate2 certificate, string directory, string name)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, name + ".crt"), certificate.ExportCertificatePem());
        if (certificate.GetECDsaPrivateKey() is { } key)
        {
            var keyPath = Path.Combine(directory, name + ".key");
            File.WriteAllText(keyPath, string.Empty);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        }
    }

    /// <summary>A local cluster's set in <paramref name="directory"/>: <c>ca.crt</c> (and <c>ca.key</c>), <c>silo.crt/key</c>
    /// and <c>client.crt/key</c>, valid for <paramref name="days"/> days from now.</summary>
    public static void WriteLocalSet(string directory, int days = 30, TimeProvider? time = null)
    {
        var now = (time ?? TimeProvider.System).GetUtcNow();
        using var ca = CreateCa("CycleLock local CA", now.AddMinutes(-5), now.AddDays(days));
        Write(ca, directory, "ca");
        using var silo = Issue(ca, "cyclelock-silo", server: true, now.AddMinutes(-5), now.AddDays(days));
        Write(silo, directory, "silo");
        using var client = Issue(ca, "cyclelock-client", server: false, now.AddMinutes(-5), now.AddDays(days));
        Write(client, directory, "client");
    }
}
