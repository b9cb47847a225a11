namespace CycleLock.Leasing;

/// <summary>How a lease served here ended, to answer late keep-alives and retried releases from memory.</summary>
internal sealed record EndedLease(Guid HolderId, long Epoch, KeepAliveStatus Status, string Reason);
