using CycleLock.Hosting;
using CycleLock.Leasing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CycleLock.Tests.Leasing;

/// <summary>The timing budget (DESIGN §6): derived quantities, floors, and validation at start.</summary>
public sealed class TimingBudgetTests
{
    [Fact]
    public void Timing_DefaultFractions_MatchTheBudgetTable()
    {
        var t = LeaseTiming.For(TimeSpan.FromSeconds(60), new CycleLockOptions());

        Assert.Equal(TimeSpan.FromSeconds(10), t.RenewPeriod);
        Assert.Equal(TimeSpan.FromSeconds(30), t.HolderTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(3250), t.Margin);
        Assert.Equal(TimeSpan.FromMilliseconds(1625), t.SdkMargin);
        Assert.Equal(TimeSpan.FromSeconds(5), t.AttemptTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), t.MaxBackoff);
        Assert.Equal(TimeSpan.FromSeconds(10), t.KeepAliveInterval);
        Assert.Equal(TimeSpan.FromSeconds(2), t.KeepAliveTimeout);
        Assert.True(t.RenewPeriod <= (t.Ttl - t.Margin) / 3);
    }

    [Fact]
    public void Floor_EnforcedFailover_IsAboveTheDatabaseFloorAndMeetsEveryRule()
    {
        var enforce = new CycleLockOptions();
        var warn = new CycleLockOptions { FailoverFloor = FailoverFloorMode.Warn };

        var floor = LeaseTiming.Floor(enforce);
        var databaseFloor = LeaseTiming.Floor(warn);

        Assert.Equal(TimeSpan.FromSeconds(3), databaseFloor);
        Assert.True(floor > databaseFloor);
        Assert.True(LeaseTiming.MeetsFailoverFloor(floor, enforce) && LeaseTiming.MeetsDatabaseFloor(floor, enforce));
        Assert.False(LeaseTiming.MeetsFailoverFloor(floor - TimeSpan.FromMilliseconds(2), enforce));
        var budget = LeaseTiming.For(floor, enforce);
        Assert.True(budget.DatabaseFaultBudget > enforce.EstimatedFailover);
        Assert.True(budget.SiloFaultBudget >= enforce.EstimatedFailover);
        Assert.True(LeaseTiming.MeetsFailoverFloor(TimeSpan.FromSeconds(60), enforce), "the default TTL must meet the failover floor");
    }

    [Theory]
    [InlineData(5.0, 3, 75.0)] // Orleans' own membership defaults
    [InlineData(2.0, 2, 29.595)] // the silo host's defaults
    [InlineData(1.0, 1, 16.622)]
    [InlineData(0.5, 1, 11.591)] // the fastest detection the silo host accepts
    public void Limits_FasterMembershipDetection_LowersTheEnforcedFloor(double probeSeconds, int missedProbes, double floorSeconds)
    {
        var probe = TimeSpan.FromSeconds(probeSeconds);
        var options = new CycleLockOptions { EstimatedFailover = (probe * (missedProbes + 1)) + TimeSpan.FromSeconds(1) };

        var limits = LeaseTiming.Limits(options, probe, missedProbes);

        Assert.Equal(TimeSpan.FromSeconds(floorSeconds), limits.Floor);
        Assert.Equal(LeaseTiming.Floor(options), limits.Floor);
        Assert.Equal((TtlFloorCause.SiloFailover, true, TimeSpan.FromSeconds(3), options.MaxTtl), (limits.Cause, limits.FailoverFloorEnforced, limits.DatabaseFloor, limits.MaxTtl));
        Assert.Equal((options.EstimatedFailover, probe, missedProbes), (limits.EstimatedFailover, limits.ProbeTimeout, limits.NumMissedProbesLimit));
        Assert.Contains("CycleLock:Silo:ProbeTimeout", limits.DescribeFloor(), StringComparison.Ordinal);
    }

    [Fact]
    public void Limits_FailoverFloorOnlyWarns_FloorIsTheDatabaseFloor()
    {
        var limits = LeaseTiming.Limits(new CycleLockOptions { FailoverFloor = FailoverFloorMode.Warn }, TimeSpan.FromSeconds(2), 2);

        Assert.Equal((TimeSpan.FromSeconds(3), TtlFloorCause.DatabaseFault, false), (limits.Floor, limits.Cause, limits.FailoverFloorEnforced));
        Assert.Equal(TimeSpan.FromMilliseconds(29_595), limits.FailoverFloor);
        Assert.Contains("MinDatabaseFaultTolerance", limits.DescribeFloor(), StringComparison.Ordinal);
        Assert.Contains("FailoverFloor = Warn", limits.DescribeFloor(), StringComparison.Ordinal);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => RequestRules.Ttl(TimeSpan.FromSeconds(2), limits, "ttl"));
        Assert.StartsWith("TTL 00:00:02 is below the floor 00:00:03 (rule: TTL between 00:00:03 and 01:00:00).", e.Message, StringComparison.Ordinal);
        RequestRules.Ttl(TimeSpan.FromSeconds(3), limits, "ttl");
    }

    [Theory]
    [InlineData("RenewFraction", 0.5)]
    [InlineData("HolderTimeoutFraction", 0.01)]
    public void Start_BadFraction_FailsNamingTheKey(string key, double value)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(o => typeof(CycleLockOptions).GetProperty(key)!.SetValue(o, value)));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_NoTtlMeetsTheBudget_FailsWithTheRule()
    {
        // ht − m_w − interval − kt is negative for every TTL: a silo failover could never be survived.
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(o =>
        {
            o.HolderTimeoutFraction = 0.05;
            o.MarginFraction = 0.25;
        }));

        Assert.Contains("no TTL up to", error.Message, StringComparison.Ordinal);
        Assert.Contains("EstimatedFailover", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_RenewPeriodNotBelowHolderTimeout_FailsWithTheRule()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(o =>
        {
            o.RenewFraction = 0.3;
            o.HolderTimeoutFraction = 0.2;
            o.FailoverFloor = FailoverFloorMode.Warn;
        }));

        Assert.Contains("ht > P", error.Message, StringComparison.Ordinal);
    }

    private static CycleLockOptions Resolve(Action<CycleLockOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddCycleLockServices(store => store.ConnectionString = "Host=127.0.0.1", configure);
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<CycleLockOptions>>().Value;
    }
}
