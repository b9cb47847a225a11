namespace CycleLock;

/// <summary>One history event: <c>granted</c>, <c>adopted</c>, <c>released</c>, <c>lost</c>,
/// <c>expired</c>, <c>force-released</c> or <c>reset</c>. End events are unique per (lock, epoch). <see cref="By"/> is
/// who the caller said it was; <see cref="Operator"/> the credential the silo authenticated for a force-release or reset
/// (<c>anonymous</c> on a silo without credentials).</summary>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.LockHistoryEntry")]
public sealed record LockHistoryEntry(
    [property: Id(0)] long Id,
    [property: Id(1)] string Name,
    [property: Id(2)] long Epoch,
    [property: Id(3)] string Event,
    [property: Id(4)] Guid? HolderId,
    [property: Id(5)] string? HolderLabel,
    [property: Id(6)] string? Reason,
    [property: Id(7)] string? Activation,
    [property: Id(8)] string? PreviousActivation,
    [property: Id(9)] string? By,
    [property: Id(10)] DateTimeOffset At,
    [property: Id(11)] string? Operator = null);
