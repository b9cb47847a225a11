using Orleans.Concurrency;

namespace CycleLock;

/// <summary>A waiting worker's notification endpoint (a client-side grain observer). Notifications are
/// one-way: the grain never awaits them, and a lost one only costs the waiter its offer window.</summary>
[Alias("CycleLock.ILockWaiter")]
public interface ILockWaiter : IGrainObserver
{
    /// <summary>The lock is offered to this waiter for <see cref="LockOffer.Window"/>, or it is dead.</summary>
    [OneWay]
    [Alias("Offer")]
    Task OfferAsync(LockOffer offer);
}
