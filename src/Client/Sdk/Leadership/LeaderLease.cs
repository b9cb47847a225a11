namespace CycleLock.Client;

/// <summary>What a leader callback gets: the term it leads (the lease's fencing epoch — pass it with every write
/// the leader makes, so the epoch guard refuses a deposed leader's late writes) and the lease itself.</summary>
/// <param name="Name">The election's lock name.</param>
/// <param name="Term">The fencing epoch of this leadership; strictly greater than every earlier term of the election.</param>
/// <param name="Lease">The held lease: its time left, <see cref="LockHandle.EnsureHeld"/>, its lost signal.</param>
public sealed record LeaderLease(string Name, long Term, LockHandle Lease);
