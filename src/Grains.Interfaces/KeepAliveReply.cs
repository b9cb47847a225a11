namespace CycleLock;

/// <summary>Reply to a keep-alive.</summary>
/// <param name="Status">The outcome.</param>
/// <param name="Epoch">The epoch the reply speaks of.</param>
/// <param name="ValidFor">Held: how long the holder may act, measured from its send time.</param>
/// <param name="RenewFailingSince">Set while the grain's renewals are failing (jeopardy, not loss).</param>
/// <param name="Reason">Lost or released: why, for logs.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.KeepAliveReply")]
public sealed record KeepAliveReply(
    [property: Id(0)] KeepAliveStatus Status,
    [property: Id(1)] long Epoch,
    [property: Id(2)] TimeSpan ValidFor,
    [property: Id(3)] DateTimeOffset? RenewFailingSince,
    [property: Id(4)] string? Reason);
