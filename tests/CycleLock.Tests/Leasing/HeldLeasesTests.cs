using CycleLock.Leasing;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace CycleLock.Tests.Leasing;

/// <summary>The bounds one caller cannot exceed on a silo (issue 15): leases per holder label and per silo, answered
/// busy (<see cref="BusyReason.Limit"/>) before the database is asked, and free again once a lease ends.</summary>
public sealed class HeldLeasesTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));
    private readonly HeldLeases _held = new();

    private async Task<(AcquireReply Reply, AcquireRequest Request, LeaseCore Core, InMemoryLeaseStore Store)> AcquireAsync(InMemoryLeaseStore store, CycleLockOptions options, string name, string label)
    {
        var core = new LeaseCore(name, "act-" + name, store, _time, options, held: _held);
        var request = new AcquireRequest(Guid.NewGuid(), label, LeaseKey.New(), Ttl);
        return (await core.AcquireAsync(request, CancellationToken.None), request, core, store);
    }

    [Fact]
    public async Task AHolderLabelAtItsBound_IsAnsweredBusyLimit_WithoutAskingTheStore_UntilOneOfItsLeasesEnds()
    {
        var options = new CycleLockOptions { FailoverFloor = FailoverFloorMode.Warn, MaxLeasesPerHolderLabel = 2 };
        var store = new InMemoryLeaseStore(_time);
        var first = await AcquireAsync(store, options, "a", "greedy");
        await AcquireAsync(store, options, "b", "greedy");

        var third = await AcquireAsync(store, options, "c", "greedy");
        var other = await AcquireAsync(store, options, "d", "modest");

        Assert.Equal((AcquireStatus.Busy, BusyReason.Limit), (third.Reply.Status, third.Reply.BusyReason));
        Assert.False((await store.GetAsync("c", CancellationToken.None)).Exists, "the store was not asked");
        Assert.Equal(AcquireStatus.Granted, other.Reply.Status);
        Assert.Equal((3, 2), (_held.Total, _held.Of("greedy")));

        await first.Core.ReleaseAsync(new ReleaseRequest(first.Request.HolderId, first.Request.Key, first.Reply.Epoch, ReleaseReason.Completed), CancellationToken.None);
        Assert.Equal(AcquireStatus.Granted, (await AcquireAsync(store, options, "c", "greedy")).Reply.Status);
        Assert.Equal(2, _held.Of("greedy"));
    }

    [Fact]
    public async Task ASiloAtItsBound_AnswersBusyLimit_ToEveryLabel_AndAHolderRetryingItsOwnGrantIsStillAnswered()
    {
        var options = new CycleLockOptions { FailoverFloor = FailoverFloorMode.Warn, MaxLeasesPerSilo = 2 };
        var store = new InMemoryLeaseStore(_time);
        var first = await AcquireAsync(store, options, "a", "one");
        await AcquireAsync(store, options, "b", "two");

        var refused = await AcquireAsync(store, options, "c", "three");
        var retry = await first.Core.AcquireAsync(first.Request, CancellationToken.None); // the idempotent re-acquire of a lost reply

        Assert.Equal(BusyReason.Limit, refused.Reply.BusyReason);
        Assert.Equal((AcquireStatus.Granted, first.Reply.Epoch), (retry.Status, retry.Epoch));
        Assert.Equal(2, _held.Total);
        first.Core.Deactivated();
        Assert.Equal(1, _held.Total);
    }
}
