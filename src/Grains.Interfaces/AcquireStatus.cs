namespace CycleLock;

/// <summary>Outcome of an acquire.</summary>
public enum AcquireStatus
{
    /// <summary>The lease is the caller's (a new grant, or the same lease again for a retried acquire).</summary>
    Granted = 0,

    /// <summary>Someone else holds it, or the lock is fenced; see <see cref="AcquireReply.BusyReason"/>.</summary>
    Busy = 1,

    /// <summary>The lock is dead (too many stalls) until an operator resets it.</summary>
    Dead = 2,

    /// <summary>The holder id was already used for a lease that ended, or was abandoned: acquire with a fresh id.</summary>
    HolderSpent = 3,
}
