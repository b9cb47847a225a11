namespace CycleLock.Persistence;

/// <summary>
/// The result of one lease-store statement: the outcome and the lock's row as that statement saw it.
/// <see cref="Remaining"/> is <c>expires_at − now</c> from the same statement (for busy answers, the time
/// until a grant could happen) and <see cref="DbNow"/> is the database clock when it was computed.
/// </summary>
public sealed record StoreResult(
    StoreOutcome Outcome,
    long Epoch,
    Guid? HolderId,
    string? HolderLabel,
    string? Activation,
    string? PreviousActivation,
    TimeSpan Remaining,
    DateTimeOffset? FenceUntil,
    DateTimeOffset DbNow,
    TimeSpan? Ttl,
    int Attempts,
    int Stalls,
    string? Reason);
