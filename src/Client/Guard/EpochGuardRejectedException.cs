namespace CycleLock.Client;

/// <summary>The epoch guard refused a protected write: this holder no longer owns the lock. The
/// transaction is aborted; roll it back and stop acting as holder.</summary>
public sealed class EpochGuardRejectedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EpochGuardRejectedException(string reason, string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = reason;
    }

    /// <summary>Creates the exception.</summary>
    public EpochGuardRejectedException()
    {
        Reason = "rejected";
    }

    /// <summary>Creates the exception.</summary>
    public EpochGuardRejectedException(string message)
        : base(message)
    {
        Reason = "rejected";
    }

    /// <summary>Creates the exception.</summary>
    public EpochGuardRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = "rejected";
    }

    /// <summary>Why: <c>unknown</c>, <c>stale-epoch</c>, <c>not-held</c>, <c>other-holder</c> or <c>expired</c>.</summary>
    public string Reason { get; }
}
