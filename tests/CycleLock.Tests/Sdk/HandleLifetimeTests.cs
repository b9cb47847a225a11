using System.Diagnostics;
using CycleLock.Client;
using CycleLock.Tests.Grains;
using Npgsql;

namespace CycleLock.Tests.Sdk;

/// <summary>When the handle's ownership ends, and when it must not: silos gone, force-release, a database stall.</summary>
[Collection(SdkCollection.Name)]
public sealed class HandleLifetimeTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Epsilon = TimeSpan.FromMilliseconds(250);

    // How late a timer may run on a loaded machine. Only "not after" bounds widen by it; "not before" bounds
    // (a LostToken firing early, a ValidUntil shorter than the promise) stay strict.
    private static readonly TimeSpan Late = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task EverySiloStopped_LostTokenFiresAtValidUntil_WhichCoversTheLastPromise_RowStillHeld()
    {
        await using var cluster = await CycleLockCluster.StartAsync(Postgres, "stop-" + Guid.NewGuid().ToString("N")[..8], "stop");
        var name = NewName("silos-stop");
        var options = new CycleLockClientOptions { HolderLabel = "stopper", ReleaseTries = 1, ReleaseCallTimeout = TimeSpan.FromMilliseconds(500) };
        var locks = new CycleLockClient(cluster.Client, options);
        var handle = (await locks.TryAcquireAsync(name, Ttl)).Handle!;
        var ht = options.HolderTimeoutFor(Ttl);
        var margin = (Ttl / 20) + TimeSpan.FromMilliseconds(250);
        var sdkMargin = options.SdkMarginFor(Ttl);

        // Let keep-alives and renewals run, then read r = expires_at − now() − m right after a keep-alive.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var confirmed = handle.LastConfirmedSendTimestamp;
        await Eventually(() => Task.FromResult(handle.LastConfirmedSendTimestamp != confirmed), TimeSpan.FromSeconds(5), "a keep-alive answered held");
        await using var read = Postgres.DataSource.CreateCommand(
            "SELECT EXTRACT(EPOCH FROM expires_at - now())::float8 FROM cyclelock.lease WHERE service_id = $1 AND name = $2 AND state = 'held'");
        read.Parameters.Add(new NpgsqlParameter { Value = cluster.ServiceId });
        read.Parameters.Add(new NpgsqlParameter { Value = name });
        var r = TimeSpan.FromSeconds((double)(await read.ExecuteScalarAsync())!) - margin;

        await cluster.Cluster.StopAllSilosAsync();
        var s = handle.LastConfirmedSendTimestamp; // the last keep-alive that answered held
        var validUntil = Stopwatch.GetTimestamp() + (long)(handle.Remaining.TotalSeconds * Stopwatch.Frequency);
        var fired = await FiredAtAsync(handle.LostToken).WaitAsync(TimeSpan.FromSeconds(20));

        await using var row = Postgres.DataSource.CreateCommand(
            "SELECT state, epoch, expires_at > clock_timestamp() FROM cyclelock.lease WHERE service_id = $1 AND name = $2");
        row.Parameters.Add(new NpgsqlParameter { Value = cluster.ServiceId });
        row.Parameters.Add(new NpgsqlParameter { Value = name });
        await using var reader = await row.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var (state, epoch, live) = (reader.GetString(0), reader.GetInt64(1), reader.GetBoolean(2));

        var late = Ms(validUntil, fired);
        var bound = s + (long)((Min(ht, r) - sdkMargin - Epsilon).TotalSeconds * Stopwatch.Frequency);
        TestContext.Current.SendDiagnosticMessage(
            $"silos stopped: LostToken fired {late:0} ms after ValidUntil; ValidUntil − s = {Ms(s, validUntil):0} ms, s + min(ht, r) − m_w = {Ms(s, bound) + Epsilon.TotalMilliseconds:0} ms (ht {ht.TotalSeconds} s, r {r.TotalSeconds:0.00} s); row {state} epoch {epoch} unexpired {live}");
        Assert.True(late >= -Epsilon.TotalMilliseconds, $"LostToken fired {-late:0} ms before ValidUntil (rule: not before ValidUntil − {Epsilon.TotalMilliseconds} ms)");
        Assert.True(late <= Late.TotalMilliseconds, $"LostToken fired {late:0} ms after ValidUntil (rule: at most {Late.TotalMilliseconds} ms late)");
        Assert.True(validUntil >= bound, $"ValidUntil is {Ms(validUntil, bound):0} ms short of s + min(ht, r) − m_w − ε");
        Assert.Equal(("held", handle.Epoch, true), (state, epoch, live)); // stopping silos released nothing
        Assert.Equal("valid-until passed", handle.EndReason);
    }

    [Fact]
    public async Task ForceRelease_FiresLostTokenPromptly()
    {
        var name = NewName("force");
        var locks = Locks("forced");
        var handle = (await locks.TryAcquireAsync(name, Ttl)).Handle!;
        var lost = new TaskCompletionSource<(long At, DateTimeOffset Wall)>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onLost = handle.LostToken.Register(() => lost.TrySetResult((Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow)));
        await Task.Delay(500);
        var validUntil = handle.ValidUntil; // where the clock alone would end it: no keep-alive extends it after the force-release
        var reply = await locks.ForceReleaseAsync(name, handle.Epoch, "test", "operator");
        var released = Stopwatch.GetTimestamp();
        Assert.Equal(ForceReleaseStatus.Released, reply.Status);
        var (fired, firedWall) = await lost.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var after = Ms(released, fired);

        // The next keep-alive (every min(ht/3, vf/2) = 1.67 s) learns of it, from the grain: long before
        // ValidUntil, the clock's end.
        var interval = TimeSpan.FromSeconds(5) / 3;
        TestContext.Current.SendDiagnosticMessage($"force-release: LostToken after {after:0} ms, {(validUntil - firedWall).TotalMilliseconds:0} ms before ValidUntil (keep-alive interval {interval.TotalMilliseconds:0} ms); {handle.EndReason}");
        Assert.Contains("force-released", handle.EndReason, StringComparison.Ordinal);
        Assert.True(firedWall < validUntil, $"LostToken fired {(firedWall - validUntil).TotalMilliseconds:0} ms after ValidUntil: the keep-alive did not learn of the force-release");
        Assert.True(after <= (interval + Late).TotalMilliseconds, $"LostToken fired {after:0} ms after the force-release (rule: within one keep-alive interval, {interval.TotalMilliseconds:0} ms, at most {Late.TotalMilliseconds} ms late)");
        Assert.Equal(LockHandleState.Lost, handle.State);
        Assert.Null(await handle.ReleaseAsync()); // a definite loss: nothing to release
    }

    [Fact]
    public async Task DatabaseStallShorterThanBudget_InJeopardyThenHeld_LostTokenNeverFires()
    {
        var name = NewName("db-stall");
        var handle = (await Locks("staller").TryAcquireAsync(name, Ttl)).Handle!;
        var states = new List<(LockHandleState State, long At)>();
        handle.StateChanged += (_, state) =>
        {
            lock (states)
            {
                states.Add((state, Stopwatch.GetTimestamp()));
            }
        };
        var jeopardy = 0;
        handle.Jeopardy += (_, _) => Interlocked.Increment(ref jeopardy);

        // A stall of this lock's row: a transaction holds it FOR UPDATE, so every renewal blocks and times out.
        // Budget TTL − P − m = 10 − 1.67 − 0.75 = 7.58 s from the first blocked renewal (at P). The stall lasts
        // 4 s from taking the row, or until InJeopardy was seen if that came later (it takes a blocked renewal,
        // its 0.83 s attempt timeout and the next keep-alive: about 3.4 s; at most 6 s is allowed on a loaded
        // machine), so it always ends well inside the budget. It is never measured from InJeopardy: that would
        // stretch it towards the budget by however late InJeopardy came.
        var stall = TimeSpan.FromSeconds(4);
        double stalled;
        await using (var connection = await Postgres.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using var lockRow = new NpgsqlCommand("SELECT 1 FROM cyclelock.lease WHERE service_id = $1 AND name = $2 FOR UPDATE", connection, transaction);
            lockRow.Parameters.Add(new NpgsqlParameter { Value = ServiceId });
            lockRow.Parameters.Add(new NpgsqlParameter { Value = name });
            await lockRow.ExecuteNonQueryAsync();
            var taken = Stopwatch.GetTimestamp();
            await Eventually(() => Task.FromResult(Volatile.Read(ref jeopardy) > 0), TimeSpan.FromSeconds(6), "InJeopardy while renewals are blocked");
            var left = stall - TimeSpan.FromMilliseconds(Ms(taken, Stopwatch.GetTimestamp()));
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left);
            }

            Assert.False(handle.LostToken.IsCancellationRequested, "LostToken fired during a stall shorter than the budget");
            stalled = Ms(taken, Stopwatch.GetTimestamp());
            await transaction.RollbackAsync();
        }

        await Eventually(() => Task.FromResult(handle.State == LockHandleState.Held), TimeSpan.FromSeconds(6), "back to Held after the stall");
        TestContext.Current.SendDiagnosticMessage($"db stall of {stalled:0} ms: states " + string.Join(" → ", states.Select(s => s.State)));
        Assert.False(handle.LostToken.IsCancellationRequested);
        Assert.Equal(("held", handle.Epoch, true), ((await RowAsync(name)).State, (await RowAsync(name)).Epoch, (await RowAsync(name)).Live));
        Assert.Equal(ReleaseStatus.Released, (await handle.ReleaseAsync())!.Status);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    // When the token fired, taken in its callback (not when an awaiting test resumes, which a loaded machine delays).
    private static Task<long> FiredAtAsync(CancellationToken token)
    {
        var fired = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => fired.TrySetResult(Stopwatch.GetTimestamp()));
        return fired.Task;
    }
}
