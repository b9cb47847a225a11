namespace CycleLock;

/// <summary>An ownership change a scheduler may act on (requeue without burning an attempt, or alert on a dead lock).</summary>
/// <param name="Id">The history id (increasing; the subscription cursor).</param>
/// <param name="Name">The lock.</param>
/// <param name="Epoch">The epoch that ended.</param>
/// <param name="Kind">How it ended.</param>
/// <param name="HolderId">The holder whose lease ended.</param>
/// <param name="HolderLabel">Its label.</param>
/// <param name="Reason">The recorded reason (a force-release's operator reason, a release reason).</param>
/// <param name="At">Database time of the event.</param>
/// <param name="Attempts">The lock's failed-run counter when the event was read.</param>
/// <param name="Stalls">The lock's stall counter when the event was read.</param>
/// <param name="Dead">True when the lock was dead (max stalls reached) when the event was read.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.LockEvent")]
public sealed record LockEvent(
    [property: Id(0)] long Id,
    [property: Id(1)] string Name,
    [property: Id(2)] long Epoch,
    [property: Id(3)] LockEventKind Kind,
    [property: Id(4)] Guid? HolderId,
    [property: Id(5)] string? HolderLabel,
    [property: Id(6)] string? Reason,
    [property: Id(7)] DateTimeOffset At,
    [property: Id(8)] int Attempts,
    [property: Id(9)] int Stalls,
    [property: Id(10)] bool Dead);
