using System.Diagnostics;
using CycleLock.Resilience;
using CycleLock.Tests.Infrastructure;
using Npgsql;
using Polly;

namespace CycleLock.Tests.Resilience;

/// <summary>
/// The exact exception shapes of a timed-out or cancelled attempt, confirmed against the real database
/// (recorded in docs/exception-shapes.md), and how the matcher classifies each.
/// </summary>
public sealed class TimeoutShapeTests(PostgresFixture postgres)
{
    private static string Shape(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            parts.Add(x is PostgresException p ? $"{x.GetType().Name}({p.SqlState})" : x.GetType().Name);
        }

        return string.Join(" <- ", parts);
    }

    private static async Task<Exception> CaptureAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception e)
        {
            TestContext.Current.SendDiagnosticMessage(Shape(e) + ": " + e.Message);
            return e;
        }

        throw new InvalidOperationException("expected an exception");
    }

    [Fact]
    public async Task PollyAttemptTimeout_IsTimeoutRejected_AndTransient()
    {
        var pipeline = new ResiliencePipelineBuilder().AddTimeout(TimeSpan.FromMilliseconds(200)).Build();
        await using var dataSource = postgres.CreateDataSource(b => b.CancellationTimeout = 250);

        var error = await CaptureAsync(() => pipeline.ExecuteAsync(async token =>
        {
            await using var command = dataSource.CreateCommand("SELECT pg_sleep(5)");
            await command.ExecuteNonQueryAsync(token);
        }).AsTask());

        Assert.Equal("TimeoutRejectedException <- OperationCanceledException <- PostgresException(57014)", Shape(error));
        Assert.Equal(new ErrorMatch(ErrorClass.Transient, "attempt-timeout"), TransientErrorMatcher.Classify(error, attemptTimedOut: true));
    }

    [Fact]
    public async Task NpgsqlCommandTimeout_IsNpgsqlExceptionOverTimeoutException_AndTransientReconnect()
    {
        await using var dataSource = postgres.CreateDataSource(b => b.CommandTimeout = 1);

        var error = await CaptureAsync(async () =>
        {
            await using var command = dataSource.CreateCommand("SELECT pg_sleep(5)");
            await command.ExecuteNonQueryAsync();
        });

        Assert.Equal("NpgsqlException <- TimeoutException", Shape(error));
        Assert.Equal(new ErrorMatch(ErrorClass.TransientReconnect, "npgsql-command-timeout"), TransientErrorMatcher.Classify(error));
    }

    [Fact]
    public async Task CallerCancellation_IsOperationCanceledOverUserRequest57014_AndStops()
    {
        await using var dataSource = postgres.CreateDataSource();
        using var caller = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var error = await CaptureAsync(async () =>
        {
            await using var command = dataSource.CreateCommand("SELECT pg_sleep(5)");
            await command.ExecuteNonQueryAsync(caller.Token);
        });

        Assert.Equal("OperationCanceledException <- PostgresException(57014)", Shape(error));
        Assert.Equal(new ErrorMatch(ErrorClass.Stop, "caller-cancelled"), TransientErrorMatcher.Classify(error, caller.Token));
        Assert.Equal(new ErrorMatch(ErrorClass.Transient, "attempt-timeout"), TransientErrorMatcher.Classify(error, CancellationToken.None, attemptTimedOut: true));
    }

    [Fact]
    public async Task ServerStatementAndLockTimeouts_ArePostgresExceptions_AndPermanent()
    {
        await using var dataSource = postgres.CreateDataSource(b => b.Options = "-c statement_timeout=200");
        var statement = await CaptureAsync(async () =>
        {
            await using var command = dataSource.CreateCommand("SELECT pg_sleep(5)");
            await command.ExecuteNonQueryAsync();
        });

        await using var holder = await postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_xact_lock(424242)", holder, transaction))
        {
            await take.ExecuteNonQueryAsync();
        }

        await using var waiter = postgres.CreateDataSource(b => b.Options = "-c lock_timeout=200");
        var lockTimeout = await CaptureAsync(async () =>
        {
            await using var command = waiter.CreateCommand("SELECT pg_advisory_xact_lock(424242)");
            await command.ExecuteNonQueryAsync();
        });

        Assert.Equal("PostgresException(57014)", Shape(statement));
        Assert.Equal("PostgresException(55P03)", Shape(lockTimeout));
        Assert.Equal(new ErrorMatch(ErrorClass.Permanent, "server-statement-timeout"), TransientErrorMatcher.Classify(statement));
        Assert.Equal(new ErrorMatch(ErrorClass.Permanent, "server-lock-timeout"), TransientErrorMatcher.Classify(lockTimeout));
    }

    [Fact]
    public async Task TimedOutAttempt_TakesAtMostItsBudgetPlusCancellationTimeout()
    {
        // A renewal's budget is P/2; Npgsql's Cancellation Timeout (250 ms here) is included in what it really takes.
        var budget = TimeSpan.FromSeconds(10) / 6 / 2;
        await using var dataSource = CycleLock.Persistence.LeaseStoreDataSource.Create(new CycleLock.Persistence.LeaseStoreOptions { ConnectionString = postgres.ConnectionString });
        var resilience = new DatabaseResilience(dataSource, new DatabaseResilienceOptions());
        var samples = new List<TimeSpan>();
        for (var i = 0; i < 5; i++)
        {
            using var caller = new CancellationTokenSource(budget);
            var watch = Stopwatch.StartNew();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => resilience.ExecuteAsync("probe", null, null, async token =>
            {
                await using var command = dataSource.CreateCommand("SELECT pg_sleep(5)");
                return await command.ExecuteNonQueryAsync(token);
            }, caller.Token));
            samples.Add(watch.Elapsed);
        }

        // The machine is shared and noisy: the median must stay within budget + Cancellation Timeout (+ 50 ms
        // scheduling slack); every sample must be far below the 5 s statement (the attempt really was cut off).
        samples.Sort();
        var median = samples[samples.Count / 2];
        TestContext.Current.SendDiagnosticMessage($"timed-out attempt with budget {budget.TotalMilliseconds:0} ms took {string.Join(", ", samples.Select(s => $"{s.TotalMilliseconds:0} ms"))}");
        Assert.True(median <= budget + TimeSpan.FromMilliseconds(300), $"median {median.TotalMilliseconds:0} ms for a {budget.TotalMilliseconds:0} ms budget");
        Assert.All(samples, s => Assert.True(s < TimeSpan.FromSeconds(4), $"took {s.TotalMilliseconds:0} ms: the attempt was not cut off"));
    }
}
