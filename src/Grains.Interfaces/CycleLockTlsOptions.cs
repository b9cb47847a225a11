using System.Security.Cryptography.X509Certificates;

namespace CycleLock;

/// <summary>
/// Mutual TLS for a silo (section <c>CycleLock:Tls</c>: silo-to-silo and its gateway) or a client (section
/// <c>CycleLock:Client:Tls</c>): this side's certificate, from PEM files or a certificate store, and the
/// certificate authority every peer's certificate must chain to. Both sides present a certificate and refuse a
/// peer without one, with one from another CA, or with one that is expired or not yet valid.
/// </summary>
public sealed class CycleLockTlsOptions
{
    /// <summary>The silo's section.</summary>
    public const string SiloSection = "CycleLock:Tls";

    /// <summary>The client's section.</summary>
    public const string ClientSection = "CycleLock:Client:Tls";

    /// <summary>This side's certificate, PEM (with its private key, or the key in <see cref="KeyFile"/>).</summary>
    public string? CertificateFile { get; set; }

    /// <summary>The PEM private key of <see cref="CertificateFile"/> when it is a file of its own.</summary>
    public string? KeyFile { get; set; }

    /// <summary>Instead of files: the subject (e.g. <c>CN=silo-1</c>) of a certificate with a private key in the
    /// <see cref="StoreLocation"/> store <c>My</c>.</summary>
    public string? CertificateSubject { get; set; }

    /// <summary>The store <see cref="CertificateSubject"/> is looked up in. Default CurrentUser.</summary>
    public StoreLocation StoreLocation { get; set; } = StoreLocation.CurrentUser;

    /// <summary>The certificate authority (PEM, one or more certificates) a peer's certificate must chain to.
    /// Required with TLS: the system's public roots are never trusted for a cluster.</summary>
    public string? CaFile { get; set; }

    /// <summary>A silo whose endpoints leave loopback runs without TLS only with this set. Default false.</summary>
    public bool AllowInsecure { get; set; }

    /// <summary>True when a certificate is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(CertificateFile) || !string.IsNullOrWhiteSpace(CertificateSubject);
}
