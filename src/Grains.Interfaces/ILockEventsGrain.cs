namespace CycleLock;

/// <summary>
/// The feed of ownership changes a scheduler acts on: stall releases, losses, expiries and
/// force-releases of every lock of the deployment (key: <see cref="DefaultKey"/>). It reads the
/// durable history, so nothing is missed: a subscriber passes the cursor it has processed up to and
/// re-subscribes periodically; events after that cursor are delivered (again, if a one-way delivery
/// was lost). Deliveries are at least once; deduplicate by <see cref="LockEvent.Id"/>.
/// </summary>
[Alias("CycleLock.ILockEventsGrain")]
public interface ILockEventsGrain : IGrainWithStringKey
{
    /// <summary>The grain key of the deployment's feed.</summary>
    const string DefaultKey = "all";

    /// <summary>Subscribes (or renews a subscription of) <paramref name="observer"/> from
    /// <paramref name="afterId"/> (exclusive; -1 means from now). A renewal passes the generation and the
    /// last batch sequence it received in order; when they are not the feed's, the feed restarts the
    /// subscription from <paramref name="afterId"/> under a new generation (nothing is skipped; events may
    /// repeat). The subscription lapses after <see cref="LockEventSubscription.RegisteredFor"/> without a renewal.</summary>
    [Alias("Subscribe")]
    Task<LockEventSubscription> SubscribeAsync(ILockEventObserver observer, long afterId, int generation, long sequence);

    /// <summary>Ends a subscription. True when it existed.</summary>
    [Alias("Unsubscribe")]
    Task<bool> UnsubscribeAsync(ILockEventObserver observer);

    /// <summary>Reads up to <paramref name="limit"/> (1 to 1 000) events after <paramref name="afterId"/>, oldest first.</summary>
    [Alias("Read")]
    Task<LockEvent[]> ReadAsync(long afterId, int limit);
}
