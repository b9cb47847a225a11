namespace CycleLock;

/// <summary>A holder's keep-alive for its lease.</summary>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.KeepAliveRequest")]
public sealed record KeepAliveRequest(
    [property: Id(0)] Guid HolderId,
    [property: Id(1)] LeaseKey Key,
    [property: Id(2)] long Epoch);
