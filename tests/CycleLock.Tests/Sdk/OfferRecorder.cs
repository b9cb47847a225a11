using System.Collections.Concurrent;

namespace CycleLock.Tests.Sdk;

/// <summary>Records the notifications grains send to waiters (<see cref="ILockWaiter.OfferAsync"/>) as the
/// silo sends them: which waiter, what kind, and when (<see cref="TimeProvider.System"/> timestamps).</summary>
public sealed class OfferRecorder : IOutgoingGrainCallFilter
{
    public ConcurrentQueue<(Guid WaiterId, LockOfferKind Kind, long Timestamp)> Offers { get; } = new();

    public Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.Request.GetArgumentCount() == 1 && context.Request.GetArgument(0) is LockOffer offer)
        {
            Offers.Enqueue((offer.WaiterId, offer.Kind, TimeProvider.System.GetTimestamp()));
        }

        return context.Invoke();
    }

    /// <summary>The offers sent to <paramref name="waiterId"/>, in order.</summary>
    public List<long> OffersTo(Guid waiterId) =>
        [.. Offers.Where(o => o.WaiterId == waiterId && o.Kind == LockOfferKind.Offer).Select(o => o.Timestamp)];
}
