namespace CycleLock;

/// <summary>A TLS setting names a certificate that cannot be used: a missing or unreadable file, no private key,
/// expired or not yet valid, or no CA to check peers against. The message names the setting and the rule.</summary>
public sealed class CycleLockTlsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CycleLockTlsException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public CycleLockTlsException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public CycleLockTlsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
