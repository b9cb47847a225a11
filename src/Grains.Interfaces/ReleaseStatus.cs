namespace CycleLock;

/// <summary>Outcome of a release.</summary>
public enum ReleaseStatus
{
    /// <summary>This call ended the lease.</summary>
    Released = 0,

    /// <summary>The lease had already ended with <see cref="ReleaseReply.RecordedReason"/> (a retried release).</summary>
    AlreadyReleased = 1,

    /// <summary>The lease is not the caller's any more (re-granted, force-released, expired).</summary>
    Lost = 2,
}
