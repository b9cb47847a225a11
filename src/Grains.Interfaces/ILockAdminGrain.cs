namespace CycleLock;

/// <summary>Reads for operators across every lock of the deployment (the CLI's <c>list</c> and
/// <c>watch</c>, the lease view) and the deployment's TTL limits (the SDK). A stateless worker: any silo
/// answers, from the lease store or its own settings; it never adopts a lease and never starts a timer. Key: 0.</summary>
[Alias("CycleLock.ILockAdminGrain")]
public interface ILockAdminGrain : IGrainWithIntegerKey
{
    /// <summary>Locks in name order after <paramref name="afterName"/> (exclusive; null from the start), at
    /// most <paramref name="limit"/> (1 to 1 000).</summary>
    [Alias("List")]
    Task<LockInfo[]> ListAsync(string? afterName, int limit);

    /// <summary>The TTL limits acquires are checked against (floor, what sets it and the settings behind it,
    /// maximum), from the answering silo's settings: no database call.</summary>
    [Alias("GetLimits")]
    Task<LockLimits> GetLimitsAsync(CancellationToken cancellationToken = default);
}
