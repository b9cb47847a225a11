namespace CycleLock.Persistence;

/// <summary>The operator console's reads across locks, answered by the database (filtered, ordered and paged there).</summary>
public interface ILockCatalog
{
    /// <summary>A page of locks and the number matching (<see cref="LockQuery"/> already checked).</summary>
    Task<LockPage> QueryAsync(LockQuery query, CancellationToken cancellationToken);

    /// <summary>Counts by state and the last minute's grants and losses.</summary>
    Task<LockSummary> SummaryAsync(CancellationToken cancellationToken);

    /// <summary>History of <paramref name="names"/> since <paramref name="since"/>, oldest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<LockHistoryEntry>> RecentHistoryAsync(IReadOnlyList<string> names, DateTimeOffset since, int limit, CancellationToken cancellationToken);
}
