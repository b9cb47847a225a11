namespace CycleLock;

/// <summary>How a page of locks is ordered (a fixed set: the database never sees a caller's text as SQL).</summary>
public enum LockSort
{
    /// <summary>By name.</summary>
    Name = 0,

    /// <summary>Held locks first, least time left first; then by name.</summary>
    TimeLeft = 1,

    /// <summary>Highest epoch first.</summary>
    EpochDescending = 2,

    /// <summary>Most recently acquired first.</summary>
    AcquiredDescending = 3,

    /// <summary>By holder label (locks without a holder last).</summary>
    Holder = 4,
}

/// <summary>A page of the operator console: locks whose name starts with <paramref name="Prefix"/>, in
/// <paramref name="State"/> (held, free, dead, expired, jeopardy: held with less than one renew period left), held by a
/// holder whose label contains <paramref name="Holder"/> (case-insensitive), ordered by <paramref name="Sort"/>, from
/// <paramref name="Offset"/>, at most <paramref name="Limit"/>. Checked by <see cref="RequestRules.Query"/>.</summary>
/// <param name="Prefix">Name prefix, or null for every lock.</param>
/// <param name="State">State filter, or null.</param>
/// <param name="Holder">Holder label substring, or null.</param>
/// <param name="Sort">Order.</param>
/// <param name="Offset">Rows to skip (0 to 1 000 000).</param>
/// <param name="Limit">Rows to return (1 to 500).</param>
[GenerateSerializer]
[Alias("CycleLock.LockQuery")]
public sealed record LockQuery(
    [property: Id(0)] string? Prefix,
    [property: Id(1)] string? State,
    [property: Id(2)] string? Holder,
    [property: Id(3)] LockSort Sort,
    [property: Id(4)] int Offset,
    [property: Id(5)] int Limit);

/// <summary>One page of locks and how many match in all.</summary>
/// <param name="Locks">The page.</param>
/// <param name="Total">Locks matching the query.</param>
[GenerateSerializer]
[Alias("CycleLock.LockPage")]
public sealed record LockPage([property: Id(0)] LockInfo[] Locks, [property: Id(1)] long Total);

/// <summary>The console's tiles: locks held (unexpired), free (or expired), dead, in jeopardy (held with less
/// than one renew period, TTL/6, left), and grants and losses (lost, expired, force-released, stall releases) in
/// the last minute.</summary>
/// <param name="Held">Held, unexpired.</param>
/// <param name="Free">Free or expired.</param>
/// <param name="Dead">Dead until reset.</param>
/// <param name="InJeopardy">Held with less than one renew period left.</param>
/// <param name="GrantsLastMinute">Grants in the last minute.</param>
/// <param name="LossesLastMinute">Losses in the last minute.</param>
[GenerateSerializer]
[Alias("CycleLock.LockSummary")]
public sealed record LockSummary(
    [property: Id(0)] long Held,
    [property: Id(1)] long Free,
    [property: Id(2)] long Dead,
    [property: Id(3)] long InJeopardy,
    [property: Id(4)] long GrantsLastMinute,
    [property: Id(5)] long LossesLastMinute);
