using System.Collections.Concurrent;
using CycleLock.Leasing;
using CycleLock.Persistence;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CycleLock.Tests.Store;

/// <summary>When the coalescer flushes, on a fake clock: renewals are handed in a window before they are
/// due and go out together when the most urgent one falls due. The clock moves only once the queue's loop
/// is known to sleep until the expected instant (<see cref="ParkedLoop"/>).</summary>
public sealed class CoalescingQueueTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task Renew_HandedInWithinOneWindow_SentTogetherWhenTheFirstFallsDue()
    {
        var time = new FakeTimeProvider();
        var batches = new AnsweringBatches();
        await using var store = Create(time, batches, out var loop);

        var first = store.RenewAheadAsync("a", Guid.NewGuid(), 1, "act", TimeSpan.FromSeconds(30), CancellationToken.None);
        await loop.AdvanceAsync(Window, TimeSpan.FromMilliseconds(40), "after the first renewal");
        var second = store.RenewAheadAsync("b", Guid.NewGuid(), 1, "act", TimeSpan.FromSeconds(30), CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(40)); // early renewals do not wake the loop: it still sleeps until the first is due
        var third = store.RenewAheadAsync("c", Guid.NewGuid(), 1, "act", TimeSpan.FromSeconds(30), CancellationToken.None);
        await Task.Delay(50);
        Assert.True(batches.Renewals.IsEmpty, "nothing is sent before the most urgent renewal is due");

        await loop.AdvanceAsync(Window, TimeSpan.FromMilliseconds(20), "before the first renewal falls due");
        await Task.WhenAll(first, second, third).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(["a", "b", "c"], Assert.Single(batches.Renewals));
    }

    [Fact]
    public async Task Renew_ArrivingWhileAFlushIsInFlight_GoesInTheNextStatement()
    {
        var time = new FakeTimeProvider();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batches = new AnsweringBatches { Hold = gate.Task };
        await using var store = Create(time, batches, out var loop);

        var first = store.RenewAheadAsync("a", Guid.NewGuid(), 1, "act", TimeSpan.FromSeconds(30), CancellationToken.None);
        await loop.AdvanceAsync(Window, Window, "after the first renewal");
        await Wait.UntilAsync(() => batches.Renewals.Count == 1, TimeSpan.FromSeconds(5), "the first flush to start");
        var second = store.RenewAheadAsync("a", Guid.NewGuid(), 2, "act", TimeSpan.FromSeconds(30), CancellationToken.None);
        var third = store.RenewAheadAsync("b", Guid.NewGuid(), 1, "act", TimeSpan.FromSeconds(30), CancellationToken.None);
        gate.SetResult();
        await first.WaitAsync(TimeSpan.FromSeconds(5));
        await loop.AdvanceAsync(2 * Window, Window, "after the first flush"); // both were handed in at +1 window
        await Task.WhenAll(second, third).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal([["a"], ["a", "b"]], batches.Renewals.ToArray());
    }

    [Fact]
    public async Task Renew_CallerGivesUpWhileQueued_AnsweredCancelledAndLeftOutOfTheStatement()
    {
        var time = new FakeTimeProvider();
        var batches = new AnsweringBatches();
        await using var store = Create(time, batches, out var loop);
        using var giveUp = new CancellationTokenSource();

        var abandoned = store.RenewAheadAsync("a", Guid.NewGuid(), 1, "act", TimeSpan.FromSeconds(30), giveUp.Token);
        var kept = store.RenewAheadAsync("b", Guid.NewGuid(), 1, "act", TimeSpan.FromSeconds(30), CancellationToken.None);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await loop.AdvanceAsync(Window, Window, "with one caller gone");
        await kept.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(["b"], Assert.Single(batches.Renewals));
    }

    [Fact]
    public async Task Renew_RetryHandedInWhileAScheduledOneWaits_SentAtOnceWithIt()
    {
        var time = new FakeTimeProvider();
        var batches = new AnsweringBatches();
        await using var store = Create(time, batches, out _);

        var scheduled = store.RenewAheadAsync("a", Guid.NewGuid(), 1, "act", TimeSpan.FromSeconds(30), CancellationToken.None);
        var retry = store.RenewAsync("b", Guid.NewGuid(), 1, "act", TimeSpan.FromSeconds(30), CancellationToken.None);
        await Task.WhenAll(scheduled, retry).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(["a", "b"], Assert.Single(batches.Renewals));
        Assert.Equal(TimeSpan.FromSeconds(30) / 6 / 2, batches.AttemptTimeouts.Single()); // min(P/2, 5 s) at TTL 30 s
    }

    private static CoalescingLeaseStore Create(FakeTimeProvider time, AnsweringBatches batches, out ParkedLoop loop)
    {
        var memory = new InMemoryLeaseStore(time);
        batches.Singles = memory;
        var store = new CoalescingLeaseStore(memory, batches, new CycleLockOptions { CoalescingWindow = Window }, time, NullLogger<CoalescingLeaseStore>.Instance);
        loop = new ParkedLoop(time);
        store.RenewalQueue.Parked = loop.OnParked;
        return store;
    }

    private sealed class AnsweringBatches : IBatchLeaseStore
    {
        public ConcurrentQueue<string[]> Renewals { get; } = new();

        public Task Hold { get; set; } = Task.CompletedTask;

        public ConcurrentQueue<TimeSpan> AttemptTimeouts { get; } = new();

        public async Task<IReadOnlyList<StoreResult>> RenewManyAsync(IReadOnlyList<RenewInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken)
        {
            Renewals.Enqueue([.. inputs.Select(i => i.Name)]);
            AttemptTimeouts.Enqueue(attemptTimeout);
            await Hold;
            return [.. inputs.Select(i => new StoreResult(StoreOutcome.Renewed, i.Epoch, i.HolderId, null, i.Activation, null, i.Ttl, null, DateTimeOffset.UnixEpoch, i.Ttl, 0, 0, null))];
        }

        public ILeaseStore? Singles { get; set; }

        public Task<IReadOnlyList<StoreResult>> AdoptManyAsync(IReadOnlyList<AdoptInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        // Ownership changes (the grants these tests set up with) one by one in the in-memory store.
        public async Task<IReadOnlyList<StoreResult>> ChangeManyAsync(IReadOnlyList<ChangeInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken)
        {
            var results = new List<StoreResult>();
            foreach (var i in inputs)
            {
                results.Add(i.Kind switch
                {
                    ChangeKind.Acquire => await Singles!.AcquireAsync(i.Name, i.HolderId, i.Label!, i.Key, i.Ttl, i.Activation!, cancellationToken),
                    ChangeKind.Release => await Singles!.ReleaseAsync(i.Name, i.HolderId, i.Key, i.Epoch, i.Activation!, i.Reason, i.ByHolder, i.MaxStalls, cancellationToken),
                    _ => await Singles!.AbandonAsync(i.Name, i.HolderId, i.Key, cancellationToken),
                });
            }

            return results;
        }
    }
}
