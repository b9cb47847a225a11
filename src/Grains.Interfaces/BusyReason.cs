namespace CycleLock;

/// <summary>Why an acquire was busy.</summary>
public enum BusyReason
{
    /// <summary>Not busy.</summary>
    None = 0,

    /// <summary>Another holder's lease is unexpired.</summary>
    Held = 1,

    /// <summary>The previous epoch's promises may still be believed until the fence passes.</summary>
    Fenced = 2,

    /// <summary>The row is locked by a fenced write (an epoch guard) in flight.</summary>
    FencedWriteInFlight = 3,

    /// <summary>Waiters queued first: the lock is offered to them in arrival order (wait with
    /// <see cref="ICycleLockGrain.WaitAsync"/> to take your turn).</summary>
    Queued = 4,

    /// <summary>The silo serving the lock is at its bound of database work: nothing was tried; ask again after the
    /// time left (a busy answer instead of a timeout).</summary>
    Overloaded = 5,

    /// <summary>The holder label, or the silo serving the lock, is at its bound of held leases
    /// (<c>CycleLock:Locks:MaxLeasesPerHolderLabel</c>, <c>MaxLeasesPerSilo</c>): nothing was tried; release some, or
    /// ask again after the time left.</summary>
    Limit = 6,
}
