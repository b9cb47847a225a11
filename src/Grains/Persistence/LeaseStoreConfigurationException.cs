namespace CycleLock.Persistence;

/// <summary>
/// The database is configured in a way the lease store must not run with (for example
/// <c>synchronous_commit = off</c>, which can lose an acknowledged grant and reissue an epoch).
/// Permanent: retrying does not help.
/// </summary>
public sealed class LeaseStoreConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LeaseStoreConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public LeaseStoreConfigurationException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public LeaseStoreConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
