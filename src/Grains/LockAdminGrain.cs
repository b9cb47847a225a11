using CycleLock.Persistence;
using Orleans.Concurrency;

namespace CycleLock;

/// <summary>Operator reads across locks (see <see cref="ILockAdminGrain"/>), straight from the lease store.</summary>
[GrainType("cycle-lock-admin")]
[StatelessWorker]
public sealed class LockAdminGrain(ILeaseStore store) : Grain, ILockAdminGrain
{
    /// <inheritdoc />
    public async Task<LockInfo[]> ListAsync(string? afterName, int limit)
    {
        if (limit is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"List limit {limit} is out of range (rule: 1 to 1000).");
        }

        var locks = await store.ListAsync(afterName, limit, CancellationToken.None);
        return [.. locks];
    }
}
