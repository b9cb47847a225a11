namespace CycleLock.Client;

/// <summary>What an acquire came to.</summary>
public enum AcquireOutcome
{
    /// <summary>The lock is held through <see cref="AcquireResult.Handle"/>.</summary>
    Acquired = 0,

    /// <summary>Another holder has it (or waiters are ahead, or it is fenced): see the holder label, epoch and time left.</summary>
    Busy = 1,

    /// <summary>The lock is dead (it stalled too often) until an operator resets it.</summary>
    Dead = 2,

    /// <summary>The lock has the most waiters it keeps; try later.</summary>
    QueueFull = 3,

    /// <summary>No try got a reply from the cluster; the acquire was abandoned (used by <c>WithRefreshingLockAsync</c>;
    /// the acquire methods throw <see cref="TimeoutException"/> instead).</summary>
    NoReply = 4,
}
