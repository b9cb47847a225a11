namespace CycleLock.Client;

/// <summary>
/// How the SDK retries a call whose reply did not come (a gateway refused, a silo died with the call in
/// flight): bounded tries, a jittered exponential backoff between them (100 ms doubling to at most 2 s, so the
/// default 8 tries span more than the 7 s failover estimate even when every try fails at once), and
/// a timeout per try that starts short and doubles up to the configured call timeout (2 s, 4 s, then the
/// cap). A retry therefore reaches a grain that membership has just moved to a surviving silo (a failover
/// takes about 2 s with the shipped membership settings), instead of spending every try within a few
/// milliseconds, or hanging on the dead silo for the whole call timeout. Written once: acquires, releases
/// and the keep-alive loop use it.
/// </summary>
internal static class RetrySchedule
{
    /// <summary>The shortest timeout of a first try.</summary>
    public static readonly TimeSpan FirstTryTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The first backoff; it doubles per failure.</summary>
    public static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest backoff between tries.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    /// <summary>The timeout of try <paramref name="attempt"/> (0-based): min(<paramref name="cap"/>, 2 s × 2^attempt).</summary>
    public static TimeSpan TryTimeout(int attempt, TimeSpan cap)
    {
        var grown = FirstTryTimeout * Math.Pow(2, Math.Min(attempt, 10));
        return grown < cap ? grown : cap;
    }

    /// <summary>The wait after <paramref name="failures"/> consecutive failures (1 or more): 100 ms × 2^(failures − 1),
    /// at most <paramref name="cap"/> (default 2 s), with ±25 % jitter so many clients do not retry in step.</summary>
    public static TimeSpan Backoff(int failures, TimeSpan? cap = null)
    {
        var ceiling = cap ?? MaxBackoff;
        var exponential = FirstBackoff * Math.Pow(2, Math.Clamp(failures - 1, 0, 10));
        var bounded = exponential < ceiling ? exponential : ceiling;
        return bounded * (0.75 + (Random.Shared.NextDouble() / 2));
    }
}
