namespace CycleLock;

/// <summary>Outcome of a waiter's registration.</summary>
public enum WaitStatus
{
    /// <summary>Registered; an offer will come (one-way) when it is this waiter's turn.</summary>
    Queued = 0,

    /// <summary>It is this waiter's turn now: acquire with <see cref="AcquireRequest.WaiterId"/> set.</summary>
    Offered = 1,

    /// <summary>The lock already has its maximum number of waiters (default 1 000).</summary>
    QueueFull = 2,
}
