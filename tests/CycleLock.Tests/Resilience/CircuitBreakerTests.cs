using CycleLock.Resilience;
using CycleLock.Testing;
using CycleLock.Tests.Infrastructure;
using Npgsql;
using Polly.CircuitBreaker;

namespace CycleLock.Tests.Resilience;

/// <summary>While the store is down the silo-wide breaker opens, executions fail fast, and one probe passes per break.</summary>
public sealed class CircuitBreakerTests
{
    [Fact]
    public async Task StoreDown_BreakerOpensFailsFastThenProbesOncePerBreak()
    {
        var scope = "breaker-" + Guid.NewGuid().ToString("N")[..8];
        using var metrics = new DbMetrics(scope);
        await using var dataSource = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={Ports.Free()};Timeout=1"); // nothing listens: the store is down
        // Default retries: each execution retries until its budget runs out (as a renewal does during an
        // outage); the breaker must count those executions as failures.
        var options = new DatabaseResilienceOptions { BreakerMinimumThroughput = 3, BreakerBreakDuration = TimeSpan.FromSeconds(1) };
        var resilience = new DatabaseResilience(dataSource, options, scope: scope);

        async Task<Exception> ExecuteAsync()
        {
            using var budget = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            return await Assert.ThrowsAnyAsync<Exception>(() => resilience.ExecuteAsync("renew", "job", 1, async token =>
            {
                await using var connection = await dataSource.OpenConnectionAsync(token);
                return 1;
            }, budget.Token));
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.IsAssignableFrom<OperationCanceledException>(await ExecuteAsync()); // budget exhausted after transient attempts
        }

        Assert.Equal(3, metrics.Count("cyclelock.db.giveups", "renew", "budget-exhausted:socket-io"));

        var attemptsWhenOpened = metrics.Count("cyclelock.db.attempts");
        var fastFailures = new List<Exception>();
        for (var i = 0; i < 5; i++)
        {
            fastFailures.Add(await ExecuteAsync());
        }

        Assert.All(fastFailures, e => Assert.IsType<BrokenCircuitException>(e));
        Assert.Equal(attemptsWhenOpened, metrics.Count("cyclelock.db.attempts"));
        Assert.Equal("circuit-open", TransientErrorMatcher.Classify(fastFailures[0]).Rule);
        Assert.True(TransientErrorMatcher.Classify(fastFailures[0]).IsTransient, "an open breaker is transient for the grain: it retries on its next turn");

        await Task.Delay(options.BreakerBreakDuration + TimeSpan.FromMilliseconds(200));
        var beforeProbe = metrics.Count("cyclelock.db.first_attempts");
        var probe = await ExecuteAsync(); // half-open: one execution reaches the store (still down)
        var after = await ExecuteAsync(); // open again: fails fast

        Assert.IsNotType<BrokenCircuitException>(probe);
        Assert.IsType<BrokenCircuitException>(after);
        Assert.Equal(1, metrics.Count("cyclelock.db.first_attempts") - beforeProbe);
        Assert.True(metrics.Count(DbMetrics.BreakerOpened) >= 2, metrics.Describe());
    }
}
