namespace CycleLock;

/// <summary>A notification to a waiter.</summary>
/// <param name="Name">The lock.</param>
/// <param name="WaiterId">The waiter it is for.</param>
/// <param name="Kind">An offer, or the news that the lock is dead.</param>
/// <param name="Window">Offer: how long the lock is reserved for this waiter's acquire.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.LockOffer")]
public sealed record LockOffer(
    [property: Id(0)] string Name,
    [property: Id(1)] Guid WaiterId,
    [property: Id(2)] LockOfferKind Kind,
    [property: Id(3)] TimeSpan Window);
