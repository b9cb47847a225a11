namespace CycleLock;

/// <summary>Reads for operators across every lock of the deployment (the CLI's <c>list</c> and
/// <c>watch</c>, the lease view). A stateless worker: any silo answers from the lease store; it never
/// adopts a lease and never starts a timer. Key: 0.</summary>
[Alias("CycleLock.ILockAdminGrain")]
public interface ILockAdminGrain : IGrainWithIntegerKey
{
    /// <summary>Locks in name order after <paramref name="afterName"/> (exclusive; null from the start), at
    /// most <paramref name="limit"/> (1 to 1 000).</summary>
    [Alias("List")]
    Task<LockInfo[]> ListAsync(string? afterName, int limit);
}
