using CycleLock.Resilience;
using Npgsql;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Testing;
using Polly.Timeout;

namespace CycleLock.Tests.Resilience;

/// <summary>The lease store's one pipeline: breaker over whole executions, then retry, then the per-attempt timeout.</summary>
public sealed class PipelineShapeTests
{
    [Fact]
    public void Pipeline_Shape_IsBreakerThenRetryThenAttemptTimeout()
    {
        using var dataSource = NpgsqlDataSource.Create("Host=127.0.0.1");
        var options = new DatabaseResilienceOptions();
        var descriptor = new DatabaseResilience(dataSource, options).Pipeline.GetPipelineDescriptor();

        Assert.Collection(
            descriptor.Strategies,
            breaker =>
            {
                var o = Assert.IsType<CircuitBreakerStrategyOptions>(breaker.Options);
                Assert.Equal((options.BreakerFailureRatio, options.BreakerMinimumThroughput, options.BreakerBreakDuration), (o.FailureRatio, o.MinimumThroughput, o.BreakDuration));
            },
            retry =>
            {
                var o = Assert.IsType<RetryStrategyOptions>(retry.Options);
                Assert.Equal((Polly.DelayBackoffType.Exponential, true, options.MaxDelay), (o.BackoffType, o.UseJitter, o.MaxDelay));
            },
            timeout => Assert.IsType<TimeoutStrategyOptions>(timeout.Options));
    }
}
