namespace CycleLock.Client;

/// <summary>This process became leader, or stopped being leader, of an election.</summary>
/// <param name="Name">The election's lock name.</param>
/// <param name="IsLeader">True when this process now leads; false when it stepped down or lost the lease.</param>
/// <param name="Term">The term (fencing epoch) that began or ended.</param>
public sealed record LeadershipChangedEventArgs(string Name, bool IsLeader, long Term);
