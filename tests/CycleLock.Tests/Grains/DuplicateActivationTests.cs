using System.Collections.Concurrent;
using CycleLock.Client;

namespace CycleLock.Tests.Grains;

/// <summary>
/// Duplicate activations for real (DESIGN §12): two in-process clusters with the same ServiceId and
/// different ClusterIds over one lease table, so one lock has an activation in each. Holders send
/// keep-alives to either cluster at random; acquirers, inspect and force-release go to either.
/// </summary>
[Collection(RealTimeCollection.Name)]
public sealed class DuplicateActivationTests(RealTimeClusterFixture fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RunFor = TimeSpan.FromSeconds(16);

    [Fact]
    public async Task TwoClustersOneServiceId_RandomRouting_NoOverlapConsistentHistoryAndDisplacementsSeen()
    {
        var serviceId = "dup-" + Guid.NewGuid().ToString("N")[..8];
        await using var one = await CycleLockCluster.StartAsync(fixture.Postgres, serviceId, "cluster-one");
        await using var two = await CycleLockCluster.StartAsync(fixture.Postgres, serviceId, "cluster-two");
        var clusters = new[] { one, two };
        var siloOf = clusters.Select(c => c.Cluster.Silos[0].SiloAddress.ToString()).ToArray();
        var locks = new[] { "dup/a", "dup/b" };
        var beliefs = new ConcurrentBag<Belief>();
        var moved = 0;
        var end = DateTimeOffset.UtcNow + RunFor;
        var options = new CycleLockClientOptions();

        async Task HolderAsync(string name, int seed)
        {
            var random = new Random(seed);
            ICycleLockGrain Any() => clusters[random.Next(2)].Client.GetGrain<ICycleLockGrain>(name);
            while (DateTimeOffset.UtcNow < end)
            {
                var request = new AcquireRequest(Guid.NewGuid(), $"holder-{seed}", LeaseKey.New(), Ttl);
                var validity = new LeaseValidity(TimeProvider.System, options.SdkMarginFor(Ttl));
                var sent = validity.Mark();
                var reply = await Any().TryAcquireAsync(request);
                if (reply.Status != AcquireStatus.Granted)
                {
                    await Task.Delay(100 + random.Next(200));
                    continue;
                }

                validity.OnHeld(sent, reply.ValidFor);
                var start = DateTimeOffset.UtcNow;
                var holdUntil = start + TimeSpan.FromMilliseconds(1500 + random.Next(3000));
                DateTimeOffset? lostAt = null;
                while (DateTimeOffset.UtcNow < holdUntil && lostAt is null)
                {
                    await Task.Delay(100 + random.Next(100));
                    if (!validity.IsValid)
                    {
                        lostAt = validity.ValidUntil;
                        break;
                    }

                    var keepAliveSent = validity.Mark();
                    var answer = await Any().KeepAliveAsync(new KeepAliveRequest(request.HolderId, request.Key, reply.Epoch));
                    switch (answer.Status)
                    {
                        case KeepAliveStatus.Held when answer.Epoch == reply.Epoch:
                            validity.OnHeld(keepAliveSent, answer.ValidFor);
                            break;
                        case KeepAliveStatus.Moved:
                            Interlocked.Increment(ref moved);
                            break;
                        case KeepAliveStatus.Uncertain:
                            break;
                        default:
                            lostAt = DateTimeOffset.UtcNow;
                            break;
                    }
                }

                // Belief ends at the earlier of ValidUntil and the moment the holder stops acting.
                var stop = lostAt ?? DateTimeOffset.UtcNow;
                var believedUntil = validity.IsValid ? Min(stop, DateTimeOffset.UtcNow + validity.Remaining) : Min(stop, validity.ValidUntil);
                beliefs.Add(new Belief(name, reply.Epoch, start, believedUntil));
                if (lostAt is null)
                {
                    await Any().ReleaseAsync(new ReleaseRequest(request.HolderId, request.Key, reply.Epoch, ReleaseReason.Completed));
                }
            }
        }

        async Task OperatorAsync()
        {
            var random = new Random(99);
            var forced = 0;
            while (DateTimeOffset.UtcNow < end)
            {
                await Task.Delay(300);
                var name = locks[random.Next(locks.Length)];
                var info = await clusters[random.Next(2)].Client.GetGrain<ICycleLockGrain>(name).InspectAsync();
                if (forced < 2 && info.State == LockState.Held && DateTimeOffset.UtcNow > end - (RunFor / 2))
                {
                    await clusters[random.Next(2)].Client.GetGrain<ILockOperatorGrain>(name).ForceReleaseAsync(new ForceReleaseRequest(info.Epoch, "duplicate-activation test", "operator", false));
                    forced++;
                }
            }
        }

        var workers = locks.SelectMany((name, i) => Enumerable.Range(0, 3).Select(j => HolderAsync(name, (i * 10) + j))).Append(OperatorAsync());
        await Task.WhenAll(workers);

        var displacing = 0;
        foreach (var name in locks)
        {
            var history = (await one.Client.GetGrain<ICycleLockGrain>(name).GetHistoryAsync(1000, null)).Reverse().ToList();
            var grants = history.Where(h => h.Event == "granted").ToList();
            Assert.True(grants.Count >= 2, $"{name}: only {grants.Count} grants");
            Assert.True(grants.Select(g => g.Epoch).SequenceEqual(grants.Select(g => g.Epoch).Order()), $"{name}: epochs not increasing in grant order");
            foreach (var grant in grants)
            {
                var ends = history.Count(h => h.Epoch == grant.Epoch && h.Event is "released" or "lost" or "expired" or "force-released");
                Assert.True(ends <= 1, $"{name} epoch {grant.Epoch}: {ends} end events");
            }

            var info = await one.Client.GetGrain<ICycleLockGrain>(name).InspectAsync();
            Assert.All(grants.Where(g => g.Epoch != info.Epoch || info.State != LockState.Held), g =>
                Assert.True(history.Any(h => h.Epoch == g.Epoch && h.Event is "released" or "lost" or "expired" or "force-released"), $"{name} epoch {g.Epoch} has no end event"));

            displacing += history.Count(h => h.Event == "adopted" && h.PreviousActivation is { } previous && h.Activation is { } current
                && Array.FindIndex(siloOf, s => previous.StartsWith(s, StringComparison.Ordinal)) is var from and >= 0
                && Array.FindIndex(siloOf, s => current.StartsWith(s, StringComparison.Ordinal)) is var to and >= 0 && from != to);

            // No belief of one epoch overlaps another epoch's belief, or outlives the next grant.
            var mine = beliefs.Where(b => b.Lock == name).OrderBy(b => b.Start).ToList();
            for (var i = 1; i < mine.Count; i++)
            {
                Assert.True(mine[i - 1].Until <= mine[i].Start, $"{name}: epoch {mine[i - 1].Epoch} believed until {mine[i - 1].Until:HH:mm:ss.fff}, epoch {mine[i].Epoch} granted at {mine[i].Start:HH:mm:ss.fff}");
            }

            foreach (var belief in mine)
            {
                var next = grants.FirstOrDefault(g => g.Epoch > belief.Epoch);
                Assert.True(next is null || belief.Until <= next.At, $"{name}: epoch {belief.Epoch} believed until {belief.Until:HH:mm:ss.fff} after epoch {next?.Epoch} was granted at {next?.At:HH:mm:ss.fff}");
            }
        }

        TestContext.Current.SendDiagnosticMessage($"duplicate activations: {beliefs.Count} holds, {displacing} displacing adoptions, {moved} moved answers");
        Assert.True(displacing >= 1, "no adoption displaced the other cluster's activation");
        Assert.True(moved >= 1, "no keep-alive was answered 'moved'");
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private sealed record Belief(string Lock, long Epoch, DateTimeOffset Start, DateTimeOffset Until);
}
