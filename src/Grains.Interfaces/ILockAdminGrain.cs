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

    /// <summary>A page of locks for the operator console: filtered, ordered and paged in the database (checked by
    /// <see cref="RequestRules.Query"/>; a bad query throws <see cref="ArgumentException"/> naming the rule).</summary>
    [Alias("Query")]
    Task<LockPage> QueryAsync(LockQuery query);

    /// <summary>The console's tiles: counts by state and the last minute's grants and losses.</summary>
    [Alias("Summary")]
    Task<LockSummary> SummaryAsync();

    /// <summary>History of <paramref name="names"/> (1 to 200 lock names) since <paramref name="since"/> (at most a day
    /// back), oldest first, at most 5 000 entries: the console's ownership timeline.</summary>
    [Alias("RecentHistory")]
    Task<LockHistoryEntry[]> RecentHistoryAsync(string[] names, DateTimeOffset since);

    /// <summary>The TTL limits acquires are checked against (floor, what sets it and the settings behind it,
    /// maximum), from the answering silo's settings: no database call.</summary>
    [Alias("GetLimits")]
    Task<LockLimits> GetLimitsAsync(CancellationToken cancellationToken = default);
}
