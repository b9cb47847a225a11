namespace CycleLock.Persistence;

/// <summary>One renewal in a coalesced batch: the arguments of <see cref="ILeaseStore.RenewAsync"/>.</summary>
public sealed record RenewInput(string Name, Guid HolderId, long Epoch, string Activation, TimeSpan Ttl);
