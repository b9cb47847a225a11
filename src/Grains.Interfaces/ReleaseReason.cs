namespace CycleLock;

/// <summary>Why a lease ended. Stored in history as the kebab-case text of <see cref="ReleaseReasons.ToText"/>.</summary>
public enum ReleaseReason
{
    /// <summary>The run finished: resets the attempt and stall counters.</summary>
    Completed = 0,

    /// <summary>The run failed: burns one attempt, exactly once even if the release is retried.</summary>
    Failed = 1,

    /// <summary>The holder stopped sending keep-alives: counts a stall. Only the grain uses it.</summary>
    Stalled = 2,

    /// <summary>Ownership was lost (an infrastructure abort): burns nothing, counts nothing.</summary>
    LeaseLost = 3,

    /// <summary>The worker is shutting down: burns nothing, counts nothing.</summary>
    Shutdown = 4,

    /// <summary>The SDK gave up waiting for an acquire reply: burns nothing, counts nothing.</summary>
    Abandoned = 5,
}
