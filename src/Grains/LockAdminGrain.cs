using CycleLock.Leasing;
using CycleLock.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Configuration;

namespace CycleLock;

/// <summary>Operator reads across locks (see <see cref="ILockAdminGrain"/>), straight from the lease store,
/// and the TTL limits from this silo's settings.</summary>
[GrainType("cycle-lock-admin")]
[StatelessWorker]
public sealed class LockAdminGrain(ILeaseStore store, IOptions<CycleLockOptions> locks, IOptions<ClusterMembershipOptions> membership, IServiceProvider services, TimeProvider time) : Grain, ILockAdminGrain
{
    private LockLimits? _limits;
    private ILockCatalog? _catalog;

    // Resolved on first use: hosts that never serve the console (in-memory test clusters) need no database for it.
    private ILockCatalog Catalog => _catalog ??= services.GetRequiredService<ILockCatalog>();

    /// <inheritdoc />
    public async Task<LockPage> QueryAsync(LockQuery query)
    {
        RequestRules.Query(query);
        return await Catalog.QueryAsync(query, CancellationToken.None);
    }

    /// <inheritdoc />
    public Task<LockSummary> SummaryAsync() => Catalog.SummaryAsync(CancellationToken.None);

    /// <inheritdoc />
    public async Task<LockHistoryEntry[]> RecentHistoryAsync(string[] names, DateTimeOffset since)
    {
        var checkedNames = RequestRules.RecentHistory(names, since, time.GetUtcNow());
        return [.. await Catalog.RecentHistoryAsync(checkedNames, since, 5000, CancellationToken.None)];
    }

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
