namespace CycleLock.Persistence;

/// <summary>One adoption in a coalesced batch: the arguments of <see cref="ILeaseStore.AdoptAsync"/>.</summary>
public sealed record AdoptInput(string Name, Guid HolderId, LeaseKey Key, long Epoch, string Activation);
