using System.Diagnostics;
using CycleLock.Client;

namespace CycleLock.Tests.Sdk;

/// <summary>WithRefreshingLockAsync returns each of its four outcomes, and burns attempts only on Failed.</summary>
[Collection(SdkCollection.Name)]
public sealed class RefreshingLockTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Completed_ReturnsTheResult_ReleasedAsCompleted()
    {
        var name = NewName("run-ok");
        var result = await Locks("runner").WithRefreshingLockAsync(name, Ttl, (handle, _) =>
        {
            handle.EnsureHeld();
            handle.Heartbeat();
            return Task.FromResult(42);
        });
        Assert.Equal(LockRunOutcome.Completed, result.Outcome);
        Assert.Equal(42, result.Value);
        Assert.Equal(("free", 0), ((await RowAsync(name)).State, (await RowAsync(name)).Attempts));
        Assert.Contains(await HistoryAsync(name), h => h.Event == "released" && h.Reason == "completed");
    }

    [Fact]
    public async Task Completed_WorkWithoutAValue_ReleasedAsCompleted()
    {
        var name = NewName("run-task");
        long seen = 0;
        var result = await Locks("runner").WithRefreshingLockAsync(name, Ttl, async (handle, ct) =>
        {
            await Task.Delay(10, ct);
            seen = handle.Epoch;
        });
        Assert.Equal((LockRunOutcome.Completed, true), (result.Outcome, result.Value));
        Assert.Equal(result.Epoch, seen);
        Assert.Contains(await HistoryAsync(name), h => h.Event == "released" && h.Reason == "completed");
    }

    [Fact]
    public async Task NotAcquired_WhenBusy_WorkNeverRuns()
    {
        var name = NewName("run-busy");
        var holder = await Locks("the-holder").TryAcquireAsync(name, Ttl);
        var ran = false;
        var result = await Locks("runner").WithRefreshingLockAsync(name, Ttl, (_, _) =>
        {
            ran = true;
            return Task.FromResult(0);
        });
        Assert.Equal(LockRunOutcome.NotAcquired, result.Outcome);
        Assert.False(ran);
        Assert.Equal(AcquireOutcome.Busy, result.NotAcquired!.Outcome);
        Assert.Equal("the-holder", result.NotAcquired.HolderLabel);
        Assert.Equal(holder.Handle!.Epoch, result.NotAcquired.Epoch);
        await holder.Handle.ReleaseAsync();
    }

    [Fact]
    public async Task Lost_WhenForceReleasedDuringWork_TokenCancelled_NoAttemptBurned()
    {
        var name = NewName("run-lost");
        var locks = Locks("runner");
        var before = (await RowAsync(name)).Attempts;
        var tokenCancelled = false;
        var holder = Guid.Empty;
        var result = await locks.WithRefreshingLockAsync(name, Ttl, async (handle, token) =>
        {
            holder = handle.HolderId;
            var reply = await locks.ForceReleaseAsync(name, handle.Epoch, "test: operator takes it back", "test");
            Assert.Equal(ForceReleaseStatus.Released, reply.Status);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(30), token);
            }
            catch (OperationCanceledException)
            {
                tokenCancelled = true;
                throw;
            }

            return 0;
        });
        Assert.Equal(LockRunOutcome.Lost, result.Outcome);
        Assert.True(tokenCancelled, "the work's token was not cancelled");
        Assert.NotNull(result.LostReason);
        Assert.Equal(before, (await RowAsync(name)).Attempts);
        Assert.DoesNotContain(Fixture.Calls.Calls, c => c.Method == "ReleaseAsync" && c.Id == holder && c.Label == "failed"); // no attempt was even asked for
    }

    [Fact]
    public async Task Failed_WhenWorkThrows_BurnsExactlyOneAttempt()
    {
        var name = NewName("run-fail");
        var locks = Locks("runner");
        var first = await locks.WithRefreshingLockAsync<int>(name, Ttl, (_, _) => throw new InvalidOperationException("job blew up"));
        Assert.Equal(LockRunOutcome.Failed, first.Outcome);
        Assert.IsType<InvalidOperationException>(first.Exception);
        Assert.Equal(1, (await RowAsync(name)).Attempts);

        var second = await locks.WithRefreshingLockAsync<int>(name, Ttl, async (_, _) =>
        {
            await Task.Yield();
            throw new InvalidOperationException("again");
        });
        Assert.Equal(LockRunOutcome.Failed, second.Outcome);
        Assert.Equal(2, (await RowAsync(name)).Attempts);
        Assert.Equal(2, (await HistoryAsync(name)).Count(h => h.Reason == "failed"));
    }

    [Fact]
    public async Task MaxHold_HungWorkIsCancelled_Failed()
    {
        var name = NewName("run-hung");
        var result = await Locks("runner").WithRefreshingLockAsync(name, Ttl, async (_, token) =>
        {
            await Task.Delay(Timeout.Infinite, token);
            return 0;
        }, new RefreshingLockOptions { MaxHold = TimeSpan.FromMilliseconds(500) });
        Assert.Equal(LockRunOutcome.Failed, result.Outcome);
        Assert.IsType<TimeoutException>(result.Exception);
        Assert.Equal(("free", 1), ((await RowAsync(name)).State, (await RowAsync(name)).Attempts));
    }

    [Fact]
    public async Task MaxHold_WorkIgnoringItsToken_IsLeftBehind_LockReleasedAsFailed()
    {
        var name = NewName("run-deaf");
        var never = new TaskCompletionSource<int>();
        var started = Stopwatch.GetTimestamp();
        LockHandle? seen = null;
        var result = await Locks("runner").WithRefreshingLockAsync(name, Ttl, (handle, _) =>
        {
            seen = handle;
            return never.Task; // a hung job that never looks at its token
        }, new RefreshingLockOptions { MaxHold = TimeSpan.FromMilliseconds(500), OverrunGrace = TimeSpan.FromMilliseconds(500) });
        var took = Ms(started, Stopwatch.GetTimestamp());
        Assert.Equal(LockRunOutcome.Failed, result.Outcome);
        Assert.Contains("ignored cancellation", result.Exception!.Message, StringComparison.Ordinal);
        Assert.True(took < 3000, $"the run waited {took:0} ms for a hung job (rule: maxHold + grace)");
        Assert.Equal(("free", 1), ((await RowAsync(name)).State, (await RowAsync(name)).Attempts));
        Assert.Throws<LockLostException>(seen!.EnsureHeld); // the handle left with the job is no longer the holder
        never.SetResult(0);
    }

    [Fact]
    public async Task HeartbeatTimeout_WorkWithoutProgressIsCancelled_Failed()
    {
        var name = NewName("run-stuck");
        var result = await Locks("runner").WithRefreshingLockAsync(name, Ttl, async (handle, token) =>
        {
            for (var i = 0; i < 5; i++)
            {
                await Task.Delay(100, token);
                handle.Heartbeat();
            }

            await Task.Delay(Timeout.Infinite, token); // stops making progress
            return 0;
        }, new RefreshingLockOptions { HeartbeatTimeout = TimeSpan.FromMilliseconds(400) });
        Assert.Equal(LockRunOutcome.Failed, result.Outcome);
        Assert.Contains("heartbeat", result.Exception!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallerCancellation_ReleasedAsShutdown_Thrown_NoAttemptBurned()
    {
        var name = NewName("run-cancel");
        using var cancel = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Locks("runner").WithRefreshingLockAsync(name, Ttl, async (_, token) =>
        {
            await cancel.CancelAsync();
            await Task.Delay(Timeout.Infinite, token);
            return 0;
        }, cancellationToken: cancel.Token));
        Assert.Equal(("free", 0), ((await RowAsync(name)).State, (await RowAsync(name)).Attempts));
        Assert.Contains(await HistoryAsync(name), h => h.Reason == "shutdown");
    }

    [Fact]
    public async Task WaitTimeout_WaitsForTheHolderThenRuns()
    {
        var name = NewName("run-wait");
        var label = $"runner-{name}";
        var holder = await Locks("holder").TryAcquireAsync(name, Ttl);
        Assert.True(holder.Acquired, $"holder: {holder}");
        var held = holder.Handle!;
        long workStarted = 0;
        var holderStateAtStart = LockHandleState.Held;
        var run = Locks(label).WithRefreshingLockAsync(name, Ttl, (h, _) =>
        {
            workStarted = Stopwatch.GetTimestamp();
            holderStateAtStart = held.State;
            return Task.FromResult(h.Epoch);
        }, new RefreshingLockOptions { WaitTimeout = TimeSpan.FromSeconds(20) });

        // The runner found the lock busy and queued: it registered with the grain and its work has not run.
        await Eventually(() => Task.FromResult(Fixture.Calls.Count("WaitAsync", label) >= 1), TimeSpan.FromSeconds(10), $"{label} queued behind the holder");
        await Task.Delay(300);
        Assert.False(run.IsCompleted, $"the run ended while the holder held {name}");
        Assert.True(Volatile.Read(ref workStarted) == 0, $"the work on {name} ran while the holder held it");

        var releaseSent = Stopwatch.GetTimestamp();
        Assert.Equal(ReleaseStatus.Released, (await held.ReleaseAsync())!.Status);
        var result = await run.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(LockRunOutcome.Completed, result.Outcome);
        Assert.True(workStarted > releaseSent, $"the work started {Ms(workStarted, releaseSent):0} ms before the holder's release was sent");
        Assert.Equal(LockHandleState.Released, holderStateAtStart);
        Assert.True(result.Value > held.Epoch, $"run epoch {result.Value}, holder epoch {held.Epoch}");

        // The database agrees: the holder's epoch ended by its release (not by expiry) before the runner's was granted.
        var history = await HistoryAsync(name);
        var released = history.FindIndex(h => h.Epoch == held.Epoch && h.Event == "released" && h.Reason == "completed");
        var granted = history.FindIndex(h => h.Epoch == result.Value && h.Event == "granted");
        Assert.True(released >= 0 && granted > released, $"history of {name}: {string.Join(", ", history)} (expected epoch {held.Epoch} released as completed, then epoch {result.Value} granted)");
    }
}
