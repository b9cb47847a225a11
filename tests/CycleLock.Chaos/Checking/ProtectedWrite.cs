namespace CycleLock.Chaos.Checking;

/// <summary>A row of the protected table, written by a worker after the epoch guard accepted it, in the same transaction.</summary>
/// <param name="Lock">The lock the write was guarded by.</param>
/// <param name="Epoch">The epoch the guard accepted.</param>
/// <param name="Holder">The holder id the guard accepted.</param>
/// <param name="Sequence">The worker's sequence number for this write.</param>
/// <param name="CommittedAt">The write's commit timestamp (database clock); used for comparisons with grants.</param>
/// <param name="CommitOrder">A total order of commits (commit timestamp, then xid); authoritative for ordering.</param>
public sealed record ProtectedWrite(
    string Lock,
    long Epoch,
    Guid Holder,
    long Sequence,
    DateTimeOffset CommittedAt,
    ulong CommitOrder);
