namespace CycleLock.Client;

/// <summary>Thrown by <see cref="LockHandle.EnsureHeld"/> when the handle may no longer act as holder.</summary>
public sealed class LockLostException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LockLostException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public LockLostException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public LockLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
