using System.Diagnostics;
using CycleLock.Client;
using CycleLock.Leasing;

namespace CycleLock.Tests.Sdk;

/// <summary>Fair waiting: no polling of the database, arrival order, prompt hand-over, cancelled and vanished waiters.</summary>
[Collection(SdkCollection.Name)]
public sealed class WaitingAcquireTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    // TTL 3 s: ht = 1.5 s, so waiters re-register every 0.5 s and a registration lapses after 1.5 s.
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(100);

    // A lock is offered to one waiter at a time for this long (the cluster's default); a waiter that is offered
    // it in its turn but lets the window pass costs the next waiter the whole window.
    private static readonly TimeSpan OfferWindow = new CycleLockOptions().OfferWindow;

    private async Task WaitRegisteredAsync(string label) =>
        await Eventually(() => Task.FromResult(Fixture.Calls.Count("WaitAsync", label) >= 1), TimeSpan.FromSeconds(10), $"{label} registered");

    private Guid WaiterIdOf(string label) => Fixture.Calls.Calls.First(c => c.Method == "WaitAsync" && c.Label == label).Id!.Value;

    private long ReleaseArrivedAt(Guid holderId) => Fixture.Calls.Calls.First(c => c.Method == "ReleaseAsync" && c.Id == holderId).Timestamp;

    // The grain pushed the lock to the waiter from inside the previous holder's release (between the release
    // reaching the silo and its answer reaching the holder), and offered it to that waiter exactly once.
    private void AssertOfferedByTheRelease(string who, Guid waiterId, Guid previousHolder, long releaseReturned)
    {
        var arrived = ReleaseArrivedAt(previousHolder);
        var offers = Fixture.Offers.OffersTo(waiterId);
        Assert.True(offers.Count == 1, $"{who} was offered the lock {offers.Count} times (rule: once, by the previous release)");
        Assert.True(offers[0] >= arrived && offers[0] <= releaseReturned,
            $"{who} was offered the lock {Ms(arrived, offers[0]):0} ms after the previous release reached the silo, which answered {Ms(arrived, releaseReturned):0} ms after it arrived (rule: the offer is sent by the release)");
    }

    [Fact]
    public async Task TenWaiters_AcquireInArrivalOrder_EachOfferedByThePreviousRelease_WithoutPollingTheDatabase()
    {
        // TTL 30 s: waiters re-register every 5 s, so a waiter that acted on a re-registration instead of the
        // pushed offer would take seconds; each hand-over is bounded by the offer window (1 s) instead.
        var ttl = TimeSpan.FromSeconds(30);
        var reregistration = ttl / 2 / 3;
        var name = NewName("fifo");
        var first = await Locks("holder-0").TryAcquireAsync(name, ttl);
        Assert.True(first.Acquired, first.ToString());

        var order = new List<int>();
        var grants = new long[11];
        var releases = new long[11];
        var started = new long[11];
        var holders = new Guid[11];
        holders[0] = first.Handle!.HolderId;
        var waiters = new List<Task>();
        for (var i = 1; i <= 10; i++)
        {
            var index = i;
            var label = $"waiter-{name}-{i}";
            started[i] = Stopwatch.GetTimestamp();
            waiters.Add(Task.Run(async () =>
            {
                var result = await Locks(label).AcquireAsync(name, ttl, TimeSpan.FromSeconds(60));
                Assert.True(result.Acquired, $"{label}: {result}");
                grants[index] = Stopwatch.GetTimestamp();
                holders[index] = result.Handle!.HolderId;
                lock (order)
                {
                    order.Add(index);
                }

                await Task.Delay(Hold);
                await result.Handle!.ReleaseAsync();
                releases[index] = Stopwatch.GetTimestamp();
            }));
            await WaitRegisteredAsync(label);
        }

        await Task.Delay(Hold);
        await first.Handle.ReleaseAsync();
        releases[0] = Stopwatch.GetTimestamp();
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(Enumerable.Range(1, 10), order);
        var gaps = Enumerable.Range(1, 10).Select(i => Ms(releases[i - 1], grants[i])).ToList();
        TestContext.Current.SendDiagnosticMessage("hand-over after each release (ms): " + string.Join(", ", gaps.Select(g => g.ToString("0"))));
        for (var i = 1; i <= 10; i++)
        {
            AssertOfferedByTheRelease($"waiter {i}", WaiterIdOf($"waiter-{name}-{i}"), holders[i - 1], releases[i - 1]);
        }

        Assert.All(gaps.Select((g, i) => (g, i)), x => Assert.True(x.g < OfferWindow.TotalMilliseconds, $"waiter {x.i + 1} acquired {x.g:0} ms after the previous release (rule: within its offer window, {OfferWindow.TotalMilliseconds} ms; a re-registration comes every {reregistration.TotalMilliseconds} ms)"));

        // Each waiter's calls while waiting (registrations and re-registrations) stay within 1 + wait ÷ interval;
        // its acquires are the first try and the one after its offer.
        for (var i = 1; i <= 10; i++)
        {
            var label = $"waiter-{name}-{i}";
            var waited = TimeSpan.FromMilliseconds(Ms(started[i], grants[i]));
            var registrations = Fixture.Calls.Count("WaitAsync", label);
            var bound = 1 + (waited / reregistration);
            Assert.True(registrations <= bound, $"{label} waited {waited.TotalMilliseconds:0} ms with {registrations} registrations (rule: ≤ 1 + wait ÷ {reregistration.TotalMilliseconds} ms = {bound:0.0})");
            Assert.Equal(2, Fixture.Calls.Count("TryAcquireAsync", label));
        }

        // The database saw exactly one acquire per grant and nothing between a release and the next grant.
        var statements = Fixture.Store.Statements.Where(s => s.Name == name).Select(s => s.Operation).ToList();
        TestContext.Current.SendDiagnosticMessage("lease statements: " + string.Join(" ", statements));
        Assert.Equal(Enumerable.Range(0, 11).SelectMany(_ => new[] { "acquire", "release" }), statements.Where(s => s != "renew"));
        for (var i = 0; i < statements.Count - 1; i++)
        {
            if (statements[i] == "release")
            {
                Assert.Equal("acquire", statements[i + 1]);
            }
        }
    }

    [Fact]
    public async Task CancelledWaiter_IsSkipped_AndLeavesTheQueue()
    {
        var name = NewName("cancel");
        var holder = await Locks("holder").TryAcquireAsync(name, Ttl);
        var labelA = $"a-{name}";
        var labelB = $"b-{name}";
        var labelC = $"c-{name}";
        var a = Task.Run(() => Locks(labelA).AcquireAsync(name, Ttl, TimeSpan.FromSeconds(30)));
        await WaitRegisteredAsync(labelA);
        using var cancelB = new CancellationTokenSource();
        var b = Task.Run(() => Locks(labelB).AcquireAsync(name, Ttl, TimeSpan.FromSeconds(30), cancelB.Token));
        await WaitRegisteredAsync(labelB);
        var c = Task.Run(() => Locks(labelC).AcquireAsync(name, Ttl, TimeSpan.FromSeconds(30)));
        await WaitRegisteredAsync(labelC);

        await cancelB.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b);
        var waiterB = Fixture.Calls.Calls.First(call => call.Method == "WaitAsync" && call.Label == labelB).Id;
        Assert.Contains(Fixture.Calls.Calls, call => call.Method == "LeaveAsync" && call.Id == waiterB);

        await holder.Handle!.ReleaseAsync();
        var first = await a.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(first.Acquired, first.ToString());
        await first.Handle!.ReleaseAsync();
        var released = Stopwatch.GetTimestamp();
        var third = await c.WaitAsync(TimeSpan.FromSeconds(30));
        var handOver = Ms(released, Stopwatch.GetTimestamp());
        Assert.True(third.Acquired, third.ToString());

        // Skipped: B was never offered the lock; C was, by A's release, and took it within the window B's
        // turn would have cost.
        Assert.Empty(Fixture.Offers.OffersTo(waiterB!.Value));
        AssertOfferedByTheRelease("C", WaiterIdOf(labelC), first.Handle.HolderId, released);
        Assert.True(handOver < OfferWindow.TotalMilliseconds, $"the cancelled waiter was not skipped: C acquired {handOver:0} ms after A's release (B's offer window is {OfferWindow.TotalMilliseconds} ms)");
        await third.Handle!.ReleaseAsync();
        Assert.Equal(0, Fixture.Calls.Count("TryAcquireAsync", labelB) - 1); // only its first try
    }

    [Fact]
    public async Task VanishedWaiter_IsDroppedWhenItsRegistrationLapses()
    {
        var name = NewName("vanished");
        var holder = await Locks("holder").TryAcquireAsync(name, Ttl);

        // A waiter whose process vanishes: it registers once and never again.
        var grain = Client.GetGrain<ICycleLockGrain>(name);
        var ghost = new SilentWaiter();
        var reference = Client.CreateObjectReference<ILockWaiter>(ghost);
        var ghostId = Guid.NewGuid();
        var reply = await grain.WaitAsync(new WaitRequest(ghostId, "ghost", Ttl, reference));
        Assert.Equal(WaitStatus.Queued, reply.Status);
        Assert.Equal(Ttl / 2, reply.RegisteredFor);

        var label = $"live-{name}";
        var live = Task.Run(() => Locks(label).AcquireAsync(name, Ttl, TimeSpan.FromSeconds(30)));
        await WaitRegisteredAsync(label);
        await Task.Delay(reply.RegisteredFor + TimeSpan.FromMilliseconds(200)); // the ghost's registration lapses

        await holder.Handle!.ReleaseAsync();
        var released = Stopwatch.GetTimestamp();
        var result = await live.WaitAsync(TimeSpan.FromSeconds(30));
        var handOver = Ms(released, Stopwatch.GetTimestamp());
        Assert.True(result.Acquired, result.ToString());

        // Dropped: the ghost was never offered the lock; the live waiter was, by the release, and took it within
        // the window the ghost's turn would have cost.
        Assert.Empty(Fixture.Offers.OffersTo(ghostId));
        Assert.Equal(0, ghost.Offers);
        AssertOfferedByTheRelease("the live waiter", WaiterIdOf(label), holder.Handle.HolderId, released);
        Assert.True(handOver < OfferWindow.TotalMilliseconds, $"live waiter acquired {handOver:0} ms after the release: the lapsed ghost still held the head (its offer window is {OfferWindow.TotalMilliseconds} ms)");
        await result.Handle!.ReleaseAsync();
        Client.DeleteObjectReference<ILockWaiter>(reference);
    }

    [Fact]
    public async Task ABusyAnswerWhileWaitersAreQueued_NamesTheHolderTheyWaitFor()
    {
        var name = NewName("queued-holder");
        var holder = await Locks("the-holder").TryAcquireAsync(name, Ttl);
        var grain = Client.GetGrain<ICycleLockGrain>(name);
        var waiter = new SilentWaiter();
        var reference = Client.CreateObjectReference<ILockWaiter>(waiter);
        Assert.Equal(WaitStatus.Queued, (await grain.WaitAsync(new WaitRequest(Guid.NewGuid(), "queued", Ttl, reference))).Status);

        // Someone arriving behind the queue is answered from grain memory (Queued), naming whom the queue waits for.
        var behind = await Locks("behind").TryAcquireAsync(name, Ttl);
        Assert.Equal(AcquireOutcome.Busy, behind.Outcome);
        Assert.Equal(BusyReason.Queued, behind.Reply.BusyReason);
        Assert.Equal(("the-holder", holder.Handle!.Epoch), (behind.HolderLabel, behind.Epoch));
        Assert.Contains("holder the-holder", behind.ToString(), StringComparison.Ordinal);

        await holder.Handle.ReleaseAsync();
        Client.DeleteObjectReference<ILockWaiter>(reference);
    }

    [Fact]
    public async Task WaitTimeout_ReturnsTheBusyAnswer_AndLeaves()
    {
        var name = NewName("timeout");
        var holder = await Locks("holder-label").TryAcquireAsync(name, Ttl);
        var label = $"impatient-{name}";
        var result = await Locks(label).AcquireAsync(name, Ttl, TimeSpan.FromMilliseconds(700));
        Assert.Equal(AcquireOutcome.Busy, result.Outcome);
        Assert.Null(result.Handle);
        var waiter = Fixture.Calls.Calls.First(c => c.Method == "WaitAsync" && c.Label == label).Id;
        Assert.Contains(Fixture.Calls.Calls, c => c.Method == "LeaveAsync" && c.Id == waiter);
        await holder.Handle!.ReleaseAsync();
    }

    private sealed class SilentWaiter : ILockWaiter
    {
        public int Offers { get; private set; }

        public Task OfferAsync(LockOffer offer)
        {
            Offers++;
            return Task.CompletedTask;
        }
    }
}
