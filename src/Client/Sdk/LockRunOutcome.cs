namespace CycleLock.Client;

/// <summary>How a <c>WithRefreshingLockAsync</c> run ended.</summary>
public enum LockRunOutcome
{
    /// <summary>The work ran to the end under ownership; the lock was released as <c>completed</c>.</summary>
    Completed = 0,

    /// <summary>The lock was not acquired (busy, dead or queue full); the work did not run.</summary>
    NotAcquired = 1,

    /// <summary>Ownership was lost while the work ran (its token was cancelled): an infrastructure abort that
    /// burns no attempt. Requeue the job.</summary>
    Lost = 2,

    /// <summary>The work threw (or overran <c>maxHold</c> / its heartbeat timeout); the lock was released as
    /// <c>failed</c>, which burns one attempt.</summary>
    Failed = 3,
}
