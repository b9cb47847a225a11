namespace CycleLock;

/// <summary>The holder releases its lease.</summary>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.ReleaseRequest")]
public sealed record ReleaseRequest(
    [property: Id(0)] Guid HolderId,
    [property: Id(1)] LeaseKey Key,
    [property: Id(2)] long Epoch,
    [property: Id(3)] ReleaseReason Reason);
