namespace CycleLock;

/// <summary>What an operator sees of one lock. Times are database times.</summary>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.LockInfo")]
public sealed record LockInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] LockState State,
    [property: Id(2)] long Epoch,
    [property: Id(3)] Guid? HolderId,
    [property: Id(4)] string? HolderLabel,
    [property: Id(5)] DateTimeOffset? AcquiredAt,
    [property: Id(6)] DateTimeOffset? RenewedAt,
    [property: Id(7)] DateTimeOffset? ExpiresAt,
    [property: Id(8)] DateTimeOffset? FenceUntil,
    [property: Id(9)] TimeSpan TimeLeft,
    [property: Id(10)] TimeSpan? Ttl,
    [property: Id(11)] int Attempts,
    [property: Id(12)] int Stalls,
    [property: Id(13)] string? LastReleaseReason,
    [property: Id(14)] string? Activation,
    [property: Id(15)] bool Exists);
