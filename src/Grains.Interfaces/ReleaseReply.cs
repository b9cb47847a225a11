namespace CycleLock;

/// <summary>Reply to a release.</summary>
/// <param name="Status">The outcome.</param>
/// <param name="RecordedReason">AlreadyReleased: the reason history recorded for the epoch.</param>
/// <param name="CurrentEpoch">Lost: the lock's current epoch.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.ReleaseReply")]
public sealed record ReleaseReply(
    [property: Id(0)] ReleaseStatus Status,
    [property: Id(1)] string? RecordedReason,
    [property: Id(2)] long CurrentEpoch);
