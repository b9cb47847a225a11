namespace CycleLock.Leasing;

/// <summary>The lease an activation serves. The key stays in memory (never logged: <see cref="LeaseKey"/> redacts itself).</summary>
internal sealed record ServedLease(Guid HolderId, LeaseKey Key, long Epoch, string? Label, LeaseTiming Timing)
{
    public bool KeyMatches(LeaseKey key) => string.Equals(Key.Value, key.Value, StringComparison.Ordinal);
}
