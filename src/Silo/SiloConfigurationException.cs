namespace CycleLock.Silo;

/// <summary>The silo's configuration is invalid; the message names each key, its value and the rule.</summary>
public sealed class SiloConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SiloConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public SiloConfigurationException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public SiloConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
