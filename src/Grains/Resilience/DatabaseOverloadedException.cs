namespace CycleLock.Resilience;

/// <summary>
/// The silo's bound on concurrent database work was reached and a statement could not start within its
/// queue wait: nothing was sent, so the outcome is certain (nothing happened). Acquires answer Busy
/// (<c>Overloaded</c>, retry after the time left); the grain's own background work (stall and lease-lost
/// releases) is put off to a later timer turn. Never retried inside the pipeline, never a database give-up.
/// </summary>
public sealed class DatabaseOverloadedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DatabaseOverloadedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public DatabaseOverloadedException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public DatabaseOverloadedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
