using System.Diagnostics.Metrics;
using CycleLock.Hosting;
using CycleLock.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Polly.CircuitBreaker;
using Polly.Registry;
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

    [Fact]
    public void Silo_TakesThePipelineFromPollysRegistry_AndItsMeterFromTheHostsFactory()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddCycleLockServices(store =>
        {
            store.ConnectionString = "Host=127.0.0.1";
            store.ServiceId = "shape";
        });
        using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IMeterFactory>();
        var scopes = new List<object?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == CycleLockMetrics.MeterName)
                {
                    lock (scopes)
                    {
                        scopes.Add(instrument.Meter.Scope);
                    }
                }
            },
        };
        listener.Start();

        var resilience = provider.GetRequiredService<DatabaseResilience>();

        Assert.Same(provider.GetRequiredService<ResiliencePipelineProvider<string>>().GetPipeline(DatabaseResilience.PipelineName), resilience.Pipeline);
        Assert.Equal(3, resilience.Pipeline.GetPipelineDescriptor().Strategies.Count);
        lock (scopes)
        {
            Assert.Contains(factory, scopes); // the CycleLock meter of this provider, not a process-wide static one
        }
    }
}
