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
    private bool _catalogResolved;

    /// <inheritdoc />
    public async Task<LockPage> QueryAsync(LockQuery query)
    {
        RequestRules.Query(query);
        if (Catalog() is { } catalog)
        {
            return await catalog.QueryAsync(query, CancellationToken.None);
        }

        // A host without the PostgreSQL catalog (in-memory tests): the same answer from a scan.
        var all = await ScanAsync();
        var matching = all.Where(l => string.IsNullOrEmpty(query.Prefix) || l.Name.StartsWith(query.Prefix, StringComparison.Ordinal))
            .Where(l => string.IsNullOrEmpty(query.Holder) || (l.State == LockState.Held && (l.HolderLabel ?? "").Contains(query.Holder, StringComparison.OrdinalIgnoreCase)))
            .Where(l => query.State is null || Shown(l) == query.State || (query.State == "jeopardy" && Shown(l) == "held" && l.Ttl is { } ttl && l.TimeLeft < ttl / 6))
            .ToList();
        IEnumerable<LockInfo> ordered = query.Sort switch
        {
            LockSort.TimeLeft => matching.OrderBy(l => Shown(l) == "held" ? 0 : 1).ThenBy(l => l.TimeLeft).ThenBy(l => l.Name, StringComparer.Ordinal),
            LockSort.EpochDescending => matching.OrderByDescending(l => l.Epoch).ThenBy(l => l.Name, StringComparer.Ordinal),
            LockSort.AcquiredDescending => matching.OrderByDescending(l => l.AcquiredAt ?? DateTimeOffset.MinValue).ThenBy(l => l.Name, StringComparer.Ordinal),
            LockSort.Holder => matching.OrderBy(l => l.HolderLabel is null ? 1 : 0).ThenBy(l => l.HolderLabel, StringComparer.Ordinal).ThenBy(l => l.Name, StringComparer.Ordinal),
            _ => matching.OrderBy(l => l.Name, StringComparer.Ordinal),
        };
        return new LockPage([.. ordered.Skip(query.Offset).Take(query.Limit)], matching.Count);
    }

    /// <inheritdoc />
    public async Task<LockSummary> SummaryAsync()
    {
        if (Catalog() is { } catalog)
        {
            return await catalog.SummaryAsync(CancellationToken.None);
        }

        var all = await ScanAsync();
        return new LockSummary(
            all.Count(l => Shown(l) == "held"),
            all.Count(l => Shown(l) is "free" or "expired"),
            all.Count(l => Shown(l) == "dead"),
            all.Count(l => Shown(l) == "held" && l.Ttl is { } ttl && l.TimeLeft < ttl / 6),
            0,
            0);
    }

    /// <inheritdoc />
    public async Task<LockHistoryEntry[]> RecentHistoryAsync(string[] names, DateTimeOffset since)
    {
        var checkedNames = RequestRules.RecentHistory(names, since, time.GetUtcNow());
        if (Catalog() is { } catalog)
        {
            return [.. await catalog.RecentHistoryAsync(checkedNames, since, 5000, CancellationToken.None)];
        }

        var entries = new List<LockHistoryEntry>();
        foreach (var name in checkedNames)
        {
            var newestFirst = await store.HistoryAsync(name, null, 1000, CancellationToken.None);
            entries.AddRange(newestFirst.Where(e => e.At > since));
            entries.AddRange(newestFirst.Where(e => e.At <= since).Take(1)); // the last event before the window
        }

        return [.. entries.OrderBy(e => e.Id).Take(5000)];
    }

    private static string Shown(LockInfo l) => l.State == LockState.Held && l.TimeLeft <= TimeSpan.Zero ? "expired" : l.State.ToString().ToLowerInvariant();

    private ILockCatalog? Catalog()
    {
        if (!_catalogResolved)
        {
            _catalogResolved = true;
            try
            {
                _catalog = services.GetService<ILockCatalog>();
            }
            catch (InvalidOperationException)
            {
                _catalog = null; // no database configured on this host
            }
        }

        return _catalog;
    }

    private async Task<List<LockInfo>> ScanAsync()
    {
        var all = new List<LockInfo>();
        for (string? after = null; ;)
        {
            var page = await store.ListAsync(after, 1000, CancellationToken.None);
            all.AddRange(page);
            if (page.Count < 1000)
            {
                return all;
            }

            after = page[^1].Name;
        }
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
