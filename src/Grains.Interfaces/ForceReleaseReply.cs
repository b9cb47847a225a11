namespace CycleLock;

/// <summary>Reply to a force-release.</summary>
/// <param name="Status">The outcome.</param>
/// <param name="CurrentEpoch">The lock's epoch after the call.</param>
/// <param name="FenceUntil">Released: the database time before which no new grant happens.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.ForceReleaseReply")]
public sealed record ForceReleaseReply(
    [property: Id(0)] ForceReleaseStatus Status,
    [property: Id(1)] long CurrentEpoch,
    [property: Id(2)] DateTimeOffset? FenceUntil);
