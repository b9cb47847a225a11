namespace CycleLock;

/// <summary>Outcome of a force-release.</summary>
public enum ForceReleaseStatus
{
    /// <summary>This call ended the lease and bumped the epoch.</summary>
    Released = 0,

    /// <summary>The expected epoch was already force-released (a retried call).</summary>
    AlreadyReleased = 1,

    /// <summary>The lock's epoch is not the expected one.</summary>
    WrongEpoch = 2,

    /// <summary>The expected epoch is current but the lock is not held.</summary>
    NotHeld = 3,

    /// <summary>A fenced write (an epoch guard) held the row past the force-release lock timeout; retry.</summary>
    Busy = 4,
}
