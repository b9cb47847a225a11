namespace CycleLock.Leasing;

/// <summary>
/// The timing budget of one lease (DESIGN §6), derived from its TTL:
/// P = TTL × RenewFraction, ht = TTL × HolderTimeoutFraction, m = TTL × MarginFraction + MarginBase,
/// m_w = m/2, attempt timeout = min(P/2, MaxAttemptTimeout), backoff cap = min(P/4, MaxBackoff).
/// </summary>
public readonly record struct LeaseTiming(
    TimeSpan Ttl,
    TimeSpan RenewPeriod,
    TimeSpan HolderTimeout,
    TimeSpan Margin,
    TimeSpan AttemptTimeout,
    TimeSpan MaxBackoff)
{
    /// <summary>Shortest keep-alive interval: 50 ms.</summary>
    public static readonly TimeSpan MinKeepAliveInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>The SDK's margin m_w = m/2.</summary>
    public TimeSpan SdkMargin => Margin / 2;

    /// <summary>Keep-alive interval min(ht/3, …), at least 50 ms (the SDK also caps it at vf/2).</summary>
    public TimeSpan KeepAliveInterval => Max(HolderTimeout / 3, MinKeepAliveInterval);

    /// <summary>Longest keep-alive call timeout kt = min(ht/4, 2 s) (the SDK also caps it at ValidUntil − now).</summary>
    public TimeSpan KeepAliveTimeout => Min(HolderTimeout / 4, TimeSpan.FromSeconds(2));

    /// <summary>Longest database fault the lease survives: TTL − P − m.</summary>
    public TimeSpan DatabaseFaultBudget => Ttl - RenewPeriod - Margin;

    /// <summary>Longest silo outage the lease survives: ht − m_w − keep-alive interval − kt.</summary>
    public TimeSpan SiloFaultBudget => HolderTimeout - SdkMargin - KeepAliveInterval - KeepAliveTimeout;

    /// <summary>The budget for a TTL.</summary>
    public static LeaseTiming For(TimeSpan ttl, CycleLockOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var period = ttl * options.RenewFraction;
        return new LeaseTiming(
            ttl,
            period,
            ttl * options.HolderTimeoutFraction,
            (ttl * options.MarginFraction) + options.MarginBase,
            Min(period / 2, options.MaxAttemptTimeout),
            Min(period / 4, options.MaxBackoff));
    }

    /// <summary>The database-fault rules for a TTL: P/2 ≥ the minimum attempt timeout, P ≤ (TTL − m)/3, and
    /// TTL − P − m ≥ the minimum database fault tolerance.</summary>
    public static bool MeetsDatabaseFloor(TimeSpan ttl, CycleLockOptions options)
    {
        var t = For(ttl, options);
        return t.RenewPeriod / 2 >= options.MinAttemptTimeout
            && t.RenewPeriod <= (ttl - t.Margin) / 3
            && t.DatabaseFaultBudget >= options.MinDatabaseFaultTolerance;
    }

    /// <summary>The silo-failover rules for a TTL: TTL − P − m &gt; T_failover and ht − m_w ≥ T_failover + interval + kt.</summary>
    public static bool MeetsFailoverFloor(TimeSpan ttl, CycleLockOptions options)
    {
        var t = For(ttl, options);
        return t.DatabaseFaultBudget > options.EstimatedFailover && t.SiloFaultBudget >= options.EstimatedFailover;
    }

    /// <summary>The smallest TTL (to the millisecond) meeting the database rules and, unless
    /// <see cref="FailoverFloorMode.Warn"/>, the failover rules; <see cref="TimeSpan.MaxValue"/> when none up to 24 h does.</summary>
    public static TimeSpan Floor(CycleLockOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.FailoverFloor == FailoverFloorMode.Enforce
            ? Smallest(t => MeetsDatabaseFloor(t, options) && MeetsFailoverFloor(t, options))
            : Smallest(t => MeetsDatabaseFloor(t, options));
    }

    /// <summary>The smallest TTL meeting only the failover rules.</summary>
    public static TimeSpan FailoverFloorOf(CycleLockOptions options) => Smallest(t => MeetsFailoverFloor(t, options));

    /// <summary>The smallest TTL meeting only the database rules.</summary>
    public static TimeSpan DatabaseFloorOf(CycleLockOptions options) => Smallest(t => MeetsDatabaseFloor(t, options));

    /// <summary>The TTL limits a silo with <paramref name="options"/> and the membership settings
    /// <paramref name="probeTimeout"/> and <paramref name="numMissedProbesLimit"/> enforces, with the cause of
    /// the floor (what the SDK checks a TTL against before sending it).</summary>
    public static LockLimits Limits(CycleLockOptions options, TimeSpan probeTimeout, int numMissedProbesLimit)
    {
        ArgumentNullException.ThrowIfNull(options);
        var floor = Floor(options);
        var database = DatabaseFloorOf(options);
        var failover = FailoverFloorOf(options);
        var enforced = options.FailoverFloor == FailoverFloorMode.Enforce;
        return new LockLimits(
            floor,
            enforced && failover > database ? TtlFloorCause.SiloFailover : TtlFloorCause.DatabaseFault,
            options.MaxTtl,
            database,
            failover,
            enforced,
            options.EstimatedFailover,
            probeTimeout,
            numMissedProbesLimit,
            options.MinAttemptTimeout,
            options.MinDatabaseFaultTolerance);
    }

    // Every rule is monotone in TTL (each side is linear with a larger slope on the left), so bisect.
    private static TimeSpan Smallest(Func<TimeSpan, bool> meets)
    {
        var high = RequestRules.MaxTtl;
        if (!meets(high))
        {
            return TimeSpan.MaxValue;
        }

        var low = TimeSpan.Zero;
        while (high - low > TimeSpan.FromMilliseconds(1))
        {
            var mid = low + ((high - low) / 2);
            if (meets(mid))
            {
                high = mid;
            }
            else
            {
                low = mid;
            }
        }

        var milliseconds = Math.Ceiling(high.TotalMilliseconds);
        while (milliseconds > 1 && meets(TimeSpan.FromMilliseconds(milliseconds - 1)))
        {
            milliseconds--;
        }

        return TimeSpan.FromMilliseconds(milliseconds);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
