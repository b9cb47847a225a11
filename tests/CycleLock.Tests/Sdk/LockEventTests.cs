using System.Collections.Concurrent;
using CycleLock.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace CycleLock.Tests.Sdk;

/// <summary>A scheduler learns of stall releases and losses from the event feed; max stalls makes a lock
/// dead until an operator resets it.</summary>
[Collection(SdkCollection.Name)]
public sealed class LockEventTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(3);

    // A subscriber handler keeping the events of one lock.
    private static Func<LockEvent, CancellationToken, ValueTask> Collect(string name, ConcurrentQueue<LockEvent> into) => (e, _) =>
    {
        if (e.Name == name)
        {
            into.Enqueue(e);
        }

        return ValueTask.CompletedTask;
    };

    [Fact]
    public async Task StallEvents_ArriveWithCounters_MaxStallsMakesItDead_ResetBringsItBack()
    {
        var name = NewName("stalls");
        var locks = Locks("scheduler");
        var events = new ConcurrentQueue<LockEvent>();
        await using var listener = await locks.SubscribeAsync(Collect(name, events));

        var grain = Client.GetGrain<ICycleLockGrain>(name);
        for (var stall = 1; stall <= 3; stall++)
        {
            // A holder that keeps alive once after its grant, then stops (a grant never kept alive is released as
            // stalled without counting towards MaxStalls: LeaseCoreTests.GrantsNeverKeptAlive_...).
            var (holder, key) = (Guid.NewGuid(), LeaseKey.New());
            var granted = await grain.TryAcquireAsync(new AcquireRequest(holder, $"silent-{stall}", key, Ttl));
            Assert.Equal(AcquireStatus.Granted, granted.Status);
            Assert.Equal(KeepAliveStatus.Held, (await grain.KeepAliveAsync(new KeepAliveRequest(holder, key, granted.Epoch))).Status);
            await Eventually(() => Task.FromResult(events.Count >= stall), TimeSpan.FromSeconds(10), $"stall event {stall}");
            var e = events.ToArray()[stall - 1];
            TestContext.Current.SendDiagnosticMessage($"event {e.Id}: {e.Kind} epoch {e.Epoch} holder {e.HolderLabel} stalls {e.Stalls} dead {e.Dead}");
            Assert.Equal((LockEventKind.Stalled, granted.Epoch, $"silent-{stall}", stall, stall == 3), (e.Kind, e.Epoch, e.HolderLabel, e.Stalls, e.Dead));
            Assert.Equal(0, e.Attempts); // a stall burns no attempt
        }

        var dead = await locks.TryAcquireAsync(name, Ttl);
        Assert.Equal(AcquireOutcome.Dead, dead.Outcome);
        Assert.Contains("reset", dead.ToString(), StringComparison.Ordinal);
        var deadWaiting = await locks.AcquireAsync(name, Ttl, TimeSpan.FromSeconds(5));
        Assert.Equal(AcquireOutcome.Dead, deadWaiting.Outcome);
        var run = await locks.WithRefreshingLockAsync(name, Ttl, (_, _) => Task.FromResult(1));
        Assert.Equal((LockRunOutcome.NotAcquired, AcquireOutcome.Dead), (run.Outcome, run.NotAcquired!.Outcome));

        Assert.True((await locks.ResetAsync(name, "test-operator")).WasDead);
        var back = await locks.TryAcquireAsync(name, Ttl);
        Assert.True(back.Acquired, back.ToString());
        await back.Handle!.ReleaseAsync();
        Assert.Equal(3, events.Count);
        Assert.Equal(events.Count, events.Select(e => e.Id).Distinct().Count());
    }

    [Fact]
    public async Task LostDelivery_IsNoticedFromTheBatchSequence_AndTheEventArrivesAnyway()
    {
        var name = NewName("lost-batch");
        var locks = Locks("scheduler");
        var seen = new ConcurrentQueue<LockEvent>();
        await using var listener = await locks.SubscribeAsync(Collect(name, seen));
        var dropped = 0;
        listener.DropBatch = events =>
        {
            if (events.Any(e => e.Name == name) && Interlocked.Exchange(ref dropped, 1) == 0)
            {
                return true; // the one-way delivery carrying the event is lost in transit
            }

            return false;
        };

        var held = await locks.TryAcquireAsync(name, TimeSpan.FromSeconds(10));
        await locks.ForceReleaseAsync(name, held.Handle!.Epoch, "test", "operator");
        await Eventually(() => Task.FromResult(!seen.IsEmpty), TimeSpan.FromSeconds(15), "the event after its delivery was lost");
        Assert.Equal(1, dropped);
        Assert.Equal(LockEventKind.ForceReleased, Assert.Single(seen).Kind);
        await Eventually(() => Task.FromResult(listener.Cursor >= seen.Single().Id), TimeSpan.FromSeconds(10), "the cursor passes the event once it is final");
    }

    [Fact]
    public async Task ForceReleaseEvent_Arrives_AndResubscribingFromACursorRepeatsNothingMissed()
    {
        var name = NewName("force-event");
        var locks = Locks("scheduler");
        var seen = new ConcurrentQueue<LockEvent>();
        long cursor;
        await using (var listener = await locks.SubscribeAsync(Collect(name, seen)))
        {
            cursor = listener.Cursor;
            var held = await locks.TryAcquireAsync(name, TimeSpan.FromSeconds(10));
            await locks.ForceReleaseAsync(name, held.Handle!.Epoch, "test", "operator");
            await Eventually(() => Task.FromResult(!seen.IsEmpty), TimeSpan.FromSeconds(10), "force-release event");
            Assert.Equal(LockEventKind.ForceReleased, Assert.Single(seen).Kind);
            await WhenCancelled(held.Handle.LostToken).WaitAsync(TimeSpan.FromSeconds(5));
        }

        // A scheduler that restarts from its persisted cursor sees the event again (at least once).
        var again = new ConcurrentQueue<LockEvent>();
        await using var second = await locks.SubscribeAsync(Collect(name, again), cursor);
        await Eventually(() => Task.FromResult(!again.IsEmpty), TimeSpan.FromSeconds(10), "event replayed from cursor");
        Assert.Equal(seen.Single().Id, again.Single().Id);
    }

    [Fact]
    public async Task ThrowingHandler_IsRetriedUntilItSucceeds_EachFailureLogged_CursorHeldBeforeTheEvent()
    {
        var name = NewName("throwing-handler");
        var logger = new FakeLogger();
        var locks = new CycleLockClient(Client, new CycleLockClientOptions { HolderLabel = "scheduler" }, logger: logger);
        var calls = 0;
        var cursorsWhileFailing = new ConcurrentQueue<(long EventId, long Cursor)>();
        var handled = new ConcurrentQueue<LockEvent>();
        LockEventListener? listener = null;
        await using var subscription = listener = await locks.SubscribeAsync((e, _) =>
        {
            if (e.Name != name)
            {
                return ValueTask.CompletedTask;
            }

            if (Interlocked.Increment(ref calls) <= 2)
            {
                cursorsWhileFailing.Enqueue((e.Id, listener!.Cursor));
                throw new InvalidOperationException("the scheduler's own database is away");
            }

            handled.Enqueue(e);
            return ValueTask.CompletedTask;
        });

        var held = await locks.TryAcquireAsync(name, TimeSpan.FromSeconds(10));
        await locks.ForceReleaseAsync(name, held.Handle!.Epoch, "test", "operator");
        await Eventually(() => Task.FromResult(!handled.IsEmpty), TimeSpan.FromSeconds(15), "the event handed to the handler again after it threw (not skipped)");

        var e = Assert.Single(handled);
        TestContext.Current.SendDiagnosticMessage($"event {e.Id}: handler calls {calls}, cursors while failing {string.Join(", ", cursorsWhileFailing.Select(c => c.Cursor))}");
        Assert.Equal(3, calls);
        Assert.All(cursorsWhileFailing, c => Assert.True(c.Cursor < e.Id, $"while the handler failed on event {e.Id} the cursor was {c.Cursor} (expected: before the event)"));
        var failures = logger.Collector.GetSnapshot().Where(r => r.Id.Id == 101).ToList();
        Assert.Equal(2, failures.Count);
        Assert.Equal(2, listener.HandlerFailures);
        Assert.All(failures, f =>
        {
            Assert.Equal(LogLevel.Warning, f.Level);
            Assert.IsType<InvalidOperationException>(f.Exception);
            Assert.Equal(name, f.GetStructuredStateValue("LockName"));
            Assert.Equal(e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), f.GetStructuredStateValue("EventId"));
        });
        await Eventually(() => Task.FromResult(listener.Cursor >= e.Id), TimeSpan.FromSeconds(10), "the cursor passes the event once the handler succeeded");
        Assert.Equal(3, calls); // handled once: never handed again after it succeeded
    }

    [Fact]
    public async Task StoppedWhileTheHandlerFails_CursorStaysBeforeTheEvent_AListenerResumedFromItGetsTheEvent()
    {
        var name = NewName("failing-stop");
        var logger = new FakeLogger();
        var locks = new CycleLockClient(Client, new CycleLockClientOptions { HolderLabel = "scheduler" }, logger: logger);
        var failed = new ConcurrentQueue<LockEvent>();
        long cursor;
        await using (var listener = await locks.SubscribeAsync((e, _) =>
        {
            if (e.Name == name)
            {
                failed.Enqueue(e);
                throw new InvalidOperationException("handler bug");
            }

            return ValueTask.CompletedTask;
        }))
        {
            var held = await locks.TryAcquireAsync(name, TimeSpan.FromSeconds(10));
            await locks.ForceReleaseAsync(name, held.Handle!.Epoch, "test", "operator");
            await Eventually(() => Task.FromResult(failed.Count >= 2), TimeSpan.FromSeconds(15), "the failing handler retried");
            await Task.Delay(TimeSpan.FromSeconds(1)); // several feed polls: the feed's safe cursor has passed the event
            cursor = listener.Cursor;
        }

        var id = failed.First().Id;
        Assert.All(failed, e => Assert.Equal(id, e.Id));
        Assert.True(cursor < id, $"after the handler failed on event {id} and the listener stopped, its cursor was {cursor} (expected: before the event)");
        var logged = logger.Collector.GetSnapshot().Count(r => r.Id.Id == 101);
        Assert.True(logged >= 2, "each failure is logged");
        Assert.Equal(failed.Count, logged);

        // A scheduler that restarts from the persisted cursor gets the event again (at least once).
        var again = new ConcurrentQueue<LockEvent>();
        await using var resumed = await locks.SubscribeAsync(Collect(name, again), cursor);
        await Eventually(() => Task.FromResult(!again.IsEmpty), TimeSpan.FromSeconds(10), "event redelivered from the persisted cursor");
        Assert.Equal(id, again.Single().Id);
    }
}
