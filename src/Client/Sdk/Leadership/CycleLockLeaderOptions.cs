namespace CycleLock.Client;

/// <summary>Timing of a leader election (<c>AddCycleLockLeader</c>).</summary>
public sealed class CycleLockLeaderOptions
{
    /// <summary>The leader's lease TTL; null: <see cref="CycleLockClientOptions.DefaultTtl"/>. A leader that dies
    /// without releasing is followed within about this TTL plus one renew period.</summary>
    public TimeSpan? Ttl { get; set; }

    /// <summary>How long to wait before campaigning again after an error (the cluster unreachable, a dead lock)
    /// or after the callback returned on its own. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}
