using CycleLock.Leasing;
using CycleLock.Persistence;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Configuration;

namespace CycleLock;

/// <summary>Operator reads across locks (see <see cref="ILockAdminGrain"/>), straight from the lease store,
/// and the TTL limits from this silo's settings.</summary>
[GrainType("cycle-lock-admin")]
[StatelessWorker]
public sealed class LockAdminGrain(ILeaseStore store, IOptions<CycleLockOptions> locks, IOptions<ClusterMembershipOptions> membership) : Grain, ILockAdminGrain
{
    private LockLimits? _limits;

    /// <inheritdoc />
    public async Task<LockInfo[]> ListAsync(string? afterName, int limit)
    {
        if (limit is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"List limit {limit} is out of range (rule: 1 to 1000).");
        }

        var found = await store.ListAsync(afterName, limit, CancellationToken.None);
        return [.. found];
    }

    /// <inheritdoc />
    public Task<LockLimits> GetLimitsAsync(CancellationToken cancellationToken = default)
    {
        _limits ??= LeaseTiming.Limits(locks.Value, membership.Value.ProbeTimeout, membership.Value.NumMissedProbesLimit);
        return Task.FromResult(_limits);
    }
}
