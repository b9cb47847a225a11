namespace CycleLock.Client;

/// <summary>Options of one <c>WithRefreshingLockAsync</c> run.</summary>
public sealed record RefreshingLockOptions
{
    /// <summary>How long to wait for the lock when it is busy (a fair, queued wait). Default zero: try once.</summary>
    public TimeSpan WaitTimeout { get; init; } = TimeSpan.Zero;

    /// <summary>The longest the work may hold the lock; past it the work's token is cancelled and the run
    /// is <see cref="LockRunOutcome.Failed"/> (a hung job must not pin a lock forever). Default none.</summary>
    public TimeSpan? MaxHold { get; init; }

    /// <summary>The longest the work may go without <see cref="LockHandle.Heartbeat"/>; past it the work's
    /// token is cancelled and the run is <see cref="LockRunOutcome.Failed"/>. Default none.</summary>
    public TimeSpan? HeartbeatTimeout { get; init; }

    /// <summary>After an overrun (<see cref="MaxHold"/> or <see cref="HeartbeatTimeout"/>) the work's token
    /// is cancelled; if the work has not returned this long after, the run stops waiting for it, releases the
    /// lock as <c>failed</c> and returns (the work is left running without the lock). Default 2 s; 0 to 10 min.</summary>
    public TimeSpan OverrunGrace { get; init; } = TimeSpan.FromSeconds(2);
}
