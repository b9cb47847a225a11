namespace CycleLock;

/// <summary>The SDK gives up on an acquire it sent with <paramref name="HolderId"/> and <paramref name="Key"/>.</summary>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.AbandonRequest")]
public sealed record AbandonRequest(
    [property: Id(0)] Guid HolderId,
    [property: Id(1)] LeaseKey Key);
