using CycleLock.Client;

namespace CycleLock.Tests.Sdk;

/// <summary>The TTL floor meets a worker as one clear answer: an acquire below it is refused by the SDK
/// before anything reaches the lock grain (the start-up refusal is <c>SiloHost/TtlFloorHostTests</c>).</summary>
[Collection(SdkCollection.Name)]
public sealed class TtlFloorTests(SdkClusterFixture fixture, EnforcedFloorClusterFixture enforced) : SdkTestBase(fixture), IClassFixture<EnforcedFloorClusterFixture>
{
    [Fact]
    public async Task AcquireBelowTheDatabaseFloor_RefusedNamingTheFloorAndItsSettings_NothingReachesTheLockGrain()
    {
        // The SDK cluster (one in-process silo) only warns on the failover floor: its floor is the database-fault floor, 3 s.
        var label = "below-db-floor-" + Guid.NewGuid().ToString("N")[..6];
        var locks = Locks(label);
        var name = NewName("below-floor");
        var ttl = TimeSpan.FromSeconds(2);
        var limitReads = Fixture.Calls.Calls.Count(c => c.Method == "GetLimitsAsync");

        var errors = new[]
        {
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => locks.TryAcquireAsync(name, ttl)),
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => locks.AcquireAsync(name, ttl, TimeSpan.FromSeconds(5))),
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => locks.WithRefreshingLockAsync(name, ttl, (_, _) => Task.FromResult(0))),
        };

        TestContext.Current.SendDiagnosticMessage(errors[0].Message);
        Assert.All(errors, e =>
        {
            Assert.Equal("ttl", e.ParamName);
            Assert.Equal(ttl, e.ActualValue);
            Assert.Contains("TTL 00:00:02 is below the floor 00:00:03", e.Message, StringComparison.Ordinal);
            Assert.Contains("rule: TTL between 00:00:03 and 01:00:00", e.Message, StringComparison.Ordinal);
            Assert.Contains("database-fault budget", e.Message, StringComparison.Ordinal);
            Assert.Contains("MinDatabaseFaultTolerance 00:00:01", e.Message, StringComparison.Ordinal);
            Assert.Contains("FailoverFloor = Warn", e.Message, StringComparison.Ordinal);
        });
        Assert.Equal(0, Fixture.Calls.Count("TryAcquireAsync", label));
        Assert.Equal(0, Fixture.Calls.Count("WaitAsync", label));
        Assert.Equal(limitReads + 1, Fixture.Calls.Calls.Count(c => c.Method == "GetLimitsAsync")); // read once, then cached
        Assert.Equal("none", (await RowAsync(name)).State);
    }

    [Fact]
    public async Task EnforcedFailoverFloor_WorkerAskingForLess_GetsOneClearRefusalPerCall_NoneReachesTheGrain()
    {
        // The report: two silos, default membership tuning, a worker asking for 12 s got an
        // ArgumentOutOfRangeException from the grain on every acquire (376 in 30 s, 0 grants).
        var floor = enforced.Floor;
        Assert.InRange(floor, TimeSpan.FromSeconds(29), TimeSpan.FromSeconds(30));
        var label = "below-failover-floor";
        var locks = new CycleLockClient(enforced.Cluster.Client, new CycleLockClientOptions { HolderLabel = label });
        var name = NewName("failover-floor");

        var messages = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => locks.TryAcquireAsync(name, TimeSpan.FromSeconds(12)));
            messages.Add(e.Message);
        }

        var message = Assert.Single(messages);
        TestContext.Current.SendDiagnosticMessage(message);
        Assert.Contains($"TTL 00:00:12 is below the floor {floor}", message, StringComparison.Ordinal);
        Assert.Contains("silo failover", message, StringComparison.Ordinal);
        Assert.Contains("EstimatedFailover 00:00:07", message, StringComparison.Ordinal);
        Assert.Contains("ProbeTimeout 00:00:02", message, StringComparison.Ordinal);
        Assert.Contains("NumMissedProbesLimit 2", message, StringComparison.Ordinal);
        Assert.Contains("CycleLock:Silo:ProbeTimeout", message, StringComparison.Ordinal);
        Assert.Equal(0, enforced.Calls.Count("TryAcquireAsync", label));
        Assert.Equal(1, enforced.Calls.Calls.Count(c => c.Method == "GetLimitsAsync"));

        // At the floor the same worker is granted.
        var granted = await locks.TryAcquireAsync(name, floor);
        Assert.True(granted.Acquired, granted.ToString());
        await granted.Handle!.ReleaseAsync();
        Assert.Equal(1, enforced.Calls.Count("TryAcquireAsync", label));
    }
}
