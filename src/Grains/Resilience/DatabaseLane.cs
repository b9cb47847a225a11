namespace CycleLock.Resilience;

/// <summary>Which of the silo's two bounded lanes of database work a statement runs in.</summary>
public enum DatabaseLane
{
    /// <summary>Work a caller waits for (acquires, holder releases, renewals and adoptions, operator calls, reads).</summary>
    Foreground = 0,

    /// <summary>The silo's own catch-up work (stall and lease-lost releases, pruning): a few permits, so a storm of it
    /// never starves the foreground or exhausts the pool.</summary>
    Background = 1,
}
