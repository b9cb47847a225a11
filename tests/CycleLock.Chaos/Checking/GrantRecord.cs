namespace CycleLock.Chaos.Checking;

/// <summary>
/// One granted epoch of a lock, from the history table's <c>granted</c> event and its end event. Both times are
/// commit timestamps (<c>pg_xact_commit_timestamp(xmin)</c>), never the history row's <c>at</c>.
/// </summary>
/// <param name="Lock">The lock name.</param>
/// <param name="Epoch">The granted epoch.</param>
/// <param name="Holder">The holder id the epoch was granted to.</param>
/// <param name="GrantCommittedAt">When the grant committed (database clock).</param>
/// <param name="EndCommittedAt">When the end event committed; <see langword="null"/> while still held at the end of the run.</param>
/// <param name="EndKind">released, lost, expired or force-released; <see langword="null"/> while still held.</param>
public sealed record GrantRecord(
    string Lock,
    long Epoch,
    Guid Holder,
    DateTimeOffset GrantCommittedAt,
    DateTimeOffset? EndCommittedAt,
    string? EndKind)
{
    /// <summary>The end kind of a force-release: it bounds the epoch's guarded writes (DESIGN §8).</summary>
    public const string ForceReleased = "force-released";

    /// <summary>The end kind a takeover appends for the expired epoch, in the takeover's own transaction.</summary>
    public const string Expired = "expired";
}
