using System.Globalization;
using CycleLock.Testing;
using CycleLock.Tests.SiloHost;

namespace CycleLock.Tests.Adoption;

/// <summary>
/// <c>AddCycleLockLeader</c> across three processes (the chaos program's <c>leader</c> mode) against a silo process:
/// a leader killed with <c>kill -9</c> is followed within TTL + one renew period, a leader whose host is stopped
/// within one second, and two callbacks never run at once — checked on the start and stop times each process
/// prints, with strictly increasing terms.
/// </summary>
[Collection(HostCollection.Name)]
public sealed class LeaderElectionProcessTests(SiloHostFixture fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(4);

    /// <summary>The renew period P = TTL / 6 (DESIGN §3).</summary>
    private static readonly TimeSpan RenewPeriod = Ttl / 6;

    [Fact]
    public async Task ThreeReplicas_OneLeadsAtATime_AKilledLeaderIsFollowedWithinTtlPlusARenewPeriod_AStoppedOneWithinASecond()
    {
        // A worker credential scoped to cli-* names: leader election needs no operator rights.
        var name = "cli-leader/" + Guid.NewGuid().ToString("N")[..8];
        var replicas = Enumerable.Range(0, 3).Select(i => Start(name, $"replica-{i}")).ToList();
        try
        {
            var first = await NextStartAsync(replicas, afterTerm: 0, TimeSpan.FromSeconds(60));
            await Task.Delay(Ttl); // one full TTL with a leader: nobody else starts meanwhile
            Assert.Single(replicas, r => Starts(r).Count > 0);

            // kill -9: no release; the followers wait in the lock's queue until the grain ends the silent lease.
            var killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await first.Replica.SignalAsync(Signal.Kill);
            Assert.True(await first.Replica.WaitForExitAsync(TimeSpan.FromSeconds(10)), "the killed leader still runs");
            var second = await NextStartAsync(replicas, first.Term, Ttl + RenewPeriod + TimeSpan.FromSeconds(20));
            var failover = TimeSpan.FromMilliseconds(second.StartedMs - killedAt);

            // SIGTERM: the host stops, the callback is cancelled, the lease is released, a follower leads at once.
            var stoppingAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await second.Replica.SignalAsync(Signal.Term);
            var third = await NextStartAsync(replicas, second.Term, TimeSpan.FromSeconds(20));
            var handover = TimeSpan.FromMilliseconds(third.StartedMs - stoppingAt);
            Assert.True(await second.Replica.WaitForExitAsync(TimeSpan.FromSeconds(20)), "the stopped leader's host did not exit");

            TestContext.Current.SendDiagnosticMessage(
                $"terms {first.Term} ({first.Replica.Name}) → {second.Term} ({second.Replica.Name}, {failover.TotalMilliseconds:0} ms after kill -9) → {third.Term} ({third.Replica.Name}, {handover.TotalMilliseconds:0} ms after SIGTERM)");
            Assert.True(failover <= Ttl + RenewPeriod, $"a follower led {failover.TotalMilliseconds:0} ms after the leader was killed (rule: within TTL + P = {(Ttl + RenewPeriod).TotalMilliseconds:0} ms)");
            Assert.True(handover <= TimeSpan.FromSeconds(1), $"a follower led {handover.TotalMilliseconds:0} ms after the leader's host was stopped (rule: within 1 s)");
            Assert.True(first.Term < second.Term && second.Term < third.Term, "terms did not increase");
            Assert.NotSame(first.Replica, second.Replica);
            Assert.NotSame(second.Replica, third.Replica);

            // The stopped leader's callback ended before the next began; it said so through LeadershipChanged too.
            var stopped = Stops(second.Replica).Single(s => s.Term == second.Term);
            Assert.True(stopped.AtMs <= third.StartedMs, $"term {third.Term} began {stopped.AtMs - third.StartedMs} ms before term {second.Term}'s callback returned");
            Assert.Contains($"changed true {second.Term}", second.Replica.Output, StringComparison.Ordinal);
            Assert.Contains($"changed false {second.Term}", second.Replica.Output, StringComparison.Ordinal);

            // Never two callbacks at once: every interval [start, stop) (a killed one ends at the kill) is disjoint.
            var intervals = replicas.SelectMany(r => Starts(r).Select(s => (r.Name, s.Term, From: s.AtMs, To: Stops(r).FirstOrDefault(x => x.Term == s.Term).AtMs is var to and > 0 ? to : r == first.Replica ? killedAt : long.MaxValue)))
                .OrderBy(i => i.From).ToList();
            Assert.Equal(3, intervals.Count);
            for (var i = 1; i < intervals.Count; i++)
            {
                Assert.True(intervals[i - 1].To <= intervals[i].From, $"{intervals[i - 1].Name} (term {intervals[i - 1].Term}) still ran when {intervals[i].Name} (term {intervals[i].Term}) began");
            }
        }
        finally
        {
            foreach (var replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }

    private ManagedProcess Start(string name, string id) => ManagedProcess.Start(
        id,
        "dotnet",
        [BuildOutput.Of("tests/CycleLock.Chaos", "CycleLock.Chaos.dll"), "leader",
            "--gateway", fixture.Silo.GatewayPort.ToString(CultureInfo.InvariantCulture),
            "--service-id", fixture.ServiceId, "--cluster-id", "test", "--name", name,
            "--ttl-ms", ((int)Ttl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), "--id", id],
        new Dictionary<string, string> { ["CycleLock__Client__Credential"] = SiloHostFixture.WorkerCredential });

    private static async Task<(ManagedProcess Replica, long Term, long StartedMs)> NextStartAsync(List<ManagedProcess> replicas, long afterTerm, TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        while (true)
        {
            var found = replicas.SelectMany(r => Starts(r).Where(s => s.Term > afterTerm).Select(s => (r, s.Term, s.AtMs))).ToList();
            if (found.Count > 0)
            {
                return found[0];
            }

            Assert.True(DateTime.UtcNow < until, $"timed out after {within} waiting for a replica to lead a term after {afterTerm}; outputs:\n" + string.Join("\n", replicas.Select(r => $"--- {r.Name}\n{Tail(r.Output)}")));
            await Task.Delay(5);
        }
    }

    private static List<(long Term, long AtMs)> Starts(ManagedProcess replica) => Lines(replica, "start ");

    private static List<(long Term, long AtMs)> Stops(ManagedProcess replica) => Lines(replica, "stop ");

    private static List<(long Term, long AtMs)> Lines(ManagedProcess replica, string prefix) =>
        [.. replica.Output.Split('\n')
            .Where(l => l.StartsWith(prefix, StringComparison.Ordinal))
            .Select(l => l.Trim().Split(' '))
            .Select(p => (long.Parse(p[1], CultureInfo.InvariantCulture), long.Parse(p[2], CultureInfo.InvariantCulture)))];

    private static string Tail(string output) => output.Length > 2000 ? output[^2000..] : output;
}
