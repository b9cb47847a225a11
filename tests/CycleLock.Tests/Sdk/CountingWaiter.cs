namespace CycleLock.Tests.Sdk;

/// <summary>A waiter that never answers an offer (its process died, or a test watches what it is offered):
/// it only counts the offers it receives.</summary>
public sealed class CountingWaiter : ILockWaiter
{
    private int _offers;

    public int Offers => Volatile.Read(ref _offers);

    public Task OfferAsync(LockOffer offer)
    {
        Interlocked.Increment(ref _offers);
        return Task.CompletedTask;
    }
}
