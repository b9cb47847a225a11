using CycleLock.Leasing;

namespace CycleLock.Tests.Leasing;

/// <summary>The waiting room alone: offers, missed windows and answering waiters (monotonic offsets).</summary>
public sealed class WaitingRoomTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Lapse = TimeSpan.FromSeconds(30);

    [Fact]
    public void OfferWindowMissed_WaiterLosesItsTurn_NextIsOfferedAndTheMissedOneIsGone()
    {
        var room = new WaitingRoom<string>(10, Window);
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        room.Register(a, "a", TimeSpan.Zero, Lapse);
        room.Register(b, "b", TimeSpan.Zero, Lapse);
        Assert.Equal(a, room.TryOffer(TimeSpan.Zero, free: true)!.Value.Id);

        room.Expire(Window);

        Assert.Equal(0, room.PositionOf(a));
        Assert.Equal(b, room.TryOffer(Window, free: true)!.Value.Id);
    }

    [Fact]
    public void OfferedWaiterAnswering_WindowPassesWhileItsAcquireIsInFlight_KeepsItsTurn_UntilTheAnswerFails()
    {
        var room = new WaitingRoom<string>(10, Window);
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        room.Register(a, "a", TimeSpan.Zero, Lapse);
        room.Register(b, "b", TimeSpan.Zero, Lapse);
        room.TryOffer(TimeSpan.Zero, free: true);
        room.Answering(a);

        room.Expire(Window * 3); // a slow database: the window passed while a's acquire was on its way

        Assert.Equal(a, room.OfferedTo);
        Assert.Equal(1, room.PositionOf(a));
        Assert.True(room.MustGiveWay(b));

        room.AnswerFailed(a, Window * 3);
        room.Expire(Window * 3);
        Assert.Equal(0, room.PositionOf(a));
        Assert.Null(room.OfferedTo);
    }
}
