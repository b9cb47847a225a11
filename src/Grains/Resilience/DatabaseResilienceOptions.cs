using System.ComponentModel.DataAnnotations;

namespace CycleLock.Resilience;

/// <summary>The lease store's retry, timeout and circuit-breaker settings (one pipeline per silo).</summary>
public sealed class DatabaseResilienceOptions
{
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
}
