namespace CycleLock.Resilience;

/// <summary>What to do about a failed database call.</summary>
public enum ErrorClass
{
    /// <summary>Retry (outcome may be in doubt; only idempotent statements are retried).</summary>
    Transient = 0,

    /// <summary>Clear the pool and retry on a fresh connection.</summary>
    TransientReconnect = 1,

    /// <summary>Do not retry: configuration, bad input, or a server-side timeout we asked for.</summary>
    Permanent = 2,

    /// <summary>The caller cancelled: stop, this is not an error of the store.</summary>
    Stop = 3,
}
