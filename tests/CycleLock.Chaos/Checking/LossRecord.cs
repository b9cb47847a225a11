namespace CycleLock.Chaos.Checking;

/// <summary>A lease its holder lost while the holder's worker process was alive.</summary>
/// <param name="Lock">The lock name.</param>
/// <param name="Epoch">The lost epoch.</param>
/// <param name="Holder">The holder id.</param>
/// <param name="Worker">The worker number that held it.</param>
/// <param name="AtDbUtc">When the loss happened (database clock).</param>
/// <param name="Cause">LostToken, lost, expired, lease-lost, stalled, ...</param>
public sealed record LossRecord(string Lock, long Epoch, Guid Holder, int Worker, DateTimeOffset AtDbUtc, string Cause);
