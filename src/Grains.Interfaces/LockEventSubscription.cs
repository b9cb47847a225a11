namespace CycleLock;

/// <summary>Reply to a subscription.</summary>
/// <param name="Cursor">The cursor the subscription starts from (resolved when "from now", -1, was asked).</param>
/// <param name="Generation">The subscription's generation (batches of other generations are stale).</param>
/// <param name="Sequence">The last batch sequence sent in this generation (0 after a restart).</param>
/// <param name="RegisteredFor">How long the subscription lasts without a renewal.</param>
/// <param name="PollInterval">How often the feed reads history while it has subscribers.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.LockEventSubscription")]
public sealed record LockEventSubscription(
    [property: Id(0)] long Cursor,
    [property: Id(1)] int Generation,
    [property: Id(2)] long Sequence,
    [property: Id(3)] TimeSpan RegisteredFor,
    [property: Id(4)] TimeSpan PollInterval);
