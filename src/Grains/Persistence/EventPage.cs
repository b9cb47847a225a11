namespace CycleLock.Persistence;

/// <summary>
/// One read of the scheduler's feed: the events, and the horizon of the snapshot they were read in —
/// the largest history id visible (<see cref="MaxId"/>) and the snapshot's transaction bounds. Every
/// history id up to <see cref="MaxId"/> is final (visible, or never to appear) once a later read's
/// <see cref="SnapshotXmin"/> reaches this read's <see cref="SnapshotXmax"/>: by then every transaction
/// that was in flight here has ended.
/// </summary>
/// <param name="Events">End events a scheduler acts on, oldest first.</param>
/// <param name="MaxId">The largest history id visible in the snapshot (any service).</param>
/// <param name="SnapshotXmin">The oldest transaction still running at the snapshot.</param>
/// <param name="SnapshotXmax">The first transaction id not yet assigned at the snapshot.</param>
public sealed record EventPage(IReadOnlyList<LockEvent> Events, long MaxId, long SnapshotXmin, long SnapshotXmax);
