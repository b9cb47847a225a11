using System.ComponentModel.DataAnnotations;

namespace CycleLock.Resilience;

/// <summary>The lease store's retry, timeout and circuit-breaker settings (one pipeline per silo).</summary>
public sealed class DatabaseResilienceOptions
{
    /// <summary>The configuration section these settings bind from.</summary>
    public const string Section = "CycleLock:Resilience";

    /// <summary>Longest single attempt; each attempt is also bounded by the caller's budget (≤ P/2 for renewals). Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan MaxAttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>First retry delay (exponential with jitter after it). Default 25 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(25);

    /// <summary>Longest retry delay. Default 2 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Retries per execution (the caller's budget usually ends it first). Default 20.</summary>
    [Range(0, 1000)]
    public int MaxRetryAttempts { get; set; } = 20;

    /// <summary>Failure ratio of executions (after their retries) that opens the silo-wide breaker. Default 0.8.</summary>
    [Range(0.01, 1.0)]
    public double BreakerFailureRatio { get; set; } = 0.8;

    /// <summary>Executions in the sampling window before the breaker may open. Default 10.</summary>
    [Range(2, 100_000)]
    public int BreakerMinimumThroughput { get; set; } = 10;

    /// <summary>The breaker's sampling window. Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the breaker stays open before it lets one probe through. Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Statements the silo runs at once for callers (acquires, releases, renewal batches, reads); the rest queue.
    /// Keep it below the connection pool's size. Default 16; 1 to 1 000.</summary>
    [Range(1, 1000)]
    public int MaxConcurrentStatements { get; set; } = 16;

    /// <summary>Statements the silo runs at once for its own catch-up work (stall and lease-lost releases, pruning).
    /// Default 4; 1 to 1 000.</summary>
    [Range(1, 1000)]
    public int MaxConcurrentBackgroundStatements { get; set; } = 4;

    /// <summary>Statements that may wait for a permit, per lane; more are refused at once as overloaded. Default 10 000; 0 to 1 000 000.</summary>
    [Range(0, 1_000_000)]
    public int MaxQueuedStatements { get; set; } = 10_000;

    /// <summary>Longest a statement waits for a permit before it is refused as overloaded (an acquire then answers Busy,
    /// retry later; a stall release is put off to a later turn): a busy answer instead of a timeout. Default 1 s; 10 ms to 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:30")]
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(1);
}
