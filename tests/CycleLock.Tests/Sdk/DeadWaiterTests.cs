using System.Diagnostics;

namespace CycleLock.Tests.Sdk;

/// <summary>Waiters whose processes died while waiting (kill -9): they never answer an offer and never
/// re-register. A free lock must not stay reserved for them.</summary>
[Collection(SdkCollection.Name)]
public sealed class DeadWaiterTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    // A long TTL: ht = 60 s, so a registration that lapsed only after ht would starve the honest waiter for a minute.
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan OfferWindow = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task TwoSilentWaitersAheadOfAnHonestOne_HonestAcquiresWithinOneOfferWindowOfTheirMisses()
    {
        var name = NewName("dead-waiters");
        var holder = await Locks("holder").TryAcquireAsync(name, Ttl);
        Assert.True(holder.Acquired, holder.ToString());

        var grain = Client.GetGrain<ICycleLockGrain>(name);
        var ghosts = new[] { new CountingWaiter(), new CountingWaiter() };
        var references = ghosts.Select(g => Client.CreateObjectReference<ILockWaiter>(g)).ToArray();
        foreach (var reference in references)
        {
            var reply = await grain.WaitAsync(new WaitRequest(Guid.NewGuid(), "ghost", Ttl, reference));
            Assert.Equal(WaitStatus.Queued, reply.Status);
            Assert.True(reply.RegisteredFor <= TimeSpan.FromSeconds(30), $"a registration lasts {reply.RegisteredFor} at TTL {Ttl} (expected at most 30 s, whatever the TTL)");
        }

        var label = $"honest-{name}";
        var honest = Task.Run(() => Locks(label).AcquireAsync(name, Ttl, TimeSpan.FromSeconds(25)));
        await Eventually(() => Task.FromResult(Fixture.Calls.Count("WaitAsync", label) >= 1), TimeSpan.FromSeconds(5), "the honest waiter registered");

        await holder.Handle!.ReleaseAsync();
        var released = Stopwatch.GetTimestamp();
        var result = await honest;
        var took = Ms(released, Stopwatch.GetTimestamp());

        Assert.True(result.Acquired, $"the honest waiter did not get the free lock within 25 s: {result}");
        Assert.All(ghosts, g => Assert.Equal(1, g.Offers)); // each ghost had one turn and lost it
        // Offers: ghost 1 at the release, ghost 2 one window later, the honest waiter a window after that.
        var bound = (2 * OfferWindow.TotalMilliseconds) + 1500;
        Assert.True(took <= bound, $"the honest waiter acquired {took:0} ms after the release (expected ≤ {bound:0} ms: two missed windows and one offer)");
        await result.Handle!.ReleaseAsync();
        foreach (var reference in references)
        {
            Client.DeleteObjectReference<ILockWaiter>(reference);
        }
    }
}
