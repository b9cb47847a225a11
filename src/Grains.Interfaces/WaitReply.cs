namespace CycleLock;

/// <summary>Reply to a waiter's registration.</summary>
/// <param name="Status">Queued, offered now, queue full, or dead.</param>
/// <param name="Position">Queued: 1-based place in the queue (1 = next).</param>
/// <param name="RegisteredFor">How long the registration lasts without a re-registration.</param>
/// <param name="OfferWindow">Offered: how long the lock is reserved for this waiter.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.WaitReply")]
public sealed record WaitReply(
    [property: Id(0)] WaitStatus Status,
    [property: Id(1)] int Position,
    [property: Id(2)] TimeSpan RegisteredFor,
    [property: Id(3)] TimeSpan OfferWindow);
