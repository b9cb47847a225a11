namespace CycleLock;

/// <summary>
/// The TTL bounds every acquire on a deployment must meet, and what sets the floor, as one silo reports them
/// (<see cref="ILockAdminGrain.GetLimitsAsync"/>; every silo of a deployment runs with the same settings).
/// The SDK reads them once and refuses a TTL below <see cref="Floor"/> before sending anything; the lock
/// grain enforces the same floor.
/// </summary>
/// <param name="Floor">The smallest TTL an acquire is accepted with: <paramref name="DatabaseFloor"/>, or
/// <paramref name="FailoverFloor"/> when that is enforced and larger.</param>
/// <param name="Cause">Which budget sets <paramref name="Floor"/>.</param>
/// <param name="MaxTtl">The largest TTL an acquire is accepted with (<c>CycleLock:Locks:MaxTtl</c>, default 1 h).</param>
/// <param name="DatabaseFloor">The smallest TTL meeting the database-fault budget: P/2 ≥
/// <paramref name="MinAttemptTimeout"/>, P ≤ (TTL − m)/3 and TTL − P − m ≥ <paramref name="MinDatabaseFaultTolerance"/>.</param>
/// <param name="FailoverFloor">The smallest TTL meeting the silo-failover budget: TTL − P − m &gt; T_failover and
/// ht − m_w ≥ T_failover + keep-alive interval + kt; <see cref="TimeSpan.MaxValue"/> when no TTL up to
/// <paramref name="MaxTtl"/> does.</param>
/// <param name="FailoverFloorEnforced">Whether acquires below <paramref name="FailoverFloor"/> are refused
/// (<c>CycleLock:Locks:FailoverFloor = Enforce</c>, which the silo host sets on ADO.NET membership); false
/// on single-silo hosts, which only warn.</param>
/// <param name="EstimatedFailover">T_failover, the silo failover time the budget is checked against
/// (<c>CycleLock:Locks:EstimatedFailover</c>; the silo host sets it to ProbeTimeout × (NumMissedProbesLimit + 1) + 1 s).</param>
/// <param name="ProbeTimeout">The reporting silo's membership probe timeout (<c>CycleLock:Silo:ProbeTimeout</c>).</param>
/// <param name="NumMissedProbesLimit">The reporting silo's missed probes before a silo is suspected
/// (<c>CycleLock:Silo:NumMissedProbesLimit</c>).</param>
/// <param name="MinAttemptTimeout">The shortest per-attempt database timeout a TTL may imply (<c>CycleLock:Locks:MinAttemptTimeout</c>).</param>
/// <param name="MinDatabaseFaultTolerance">The shortest database fault every lease must survive
/// (<c>CycleLock:Locks:MinDatabaseFaultTolerance</c>).</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.LockLimits")]
public sealed record LockLimits(
    [property: Id(0)] TimeSpan Floor,
    [property: Id(1)] TtlFloorCause Cause,
    [property: Id(2)] TimeSpan MaxTtl,
    [property: Id(3)] TimeSpan DatabaseFloor,
    [property: Id(4)] TimeSpan FailoverFloor,
    [property: Id(5)] bool FailoverFloorEnforced,
    [property: Id(6)] TimeSpan EstimatedFailover,
    [property: Id(7)] TimeSpan ProbeTimeout,
    [property: Id(8)] int NumMissedProbesLimit,
    [property: Id(9)] TimeSpan MinAttemptTimeout,
    [property: Id(10)] TimeSpan MinDatabaseFaultTolerance)
{
    /// <summary>What sets <see cref="Floor"/>, with the settings behind it and how to lower it (for messages).</summary>
    public string DescribeFloor() => Cause == TtlFloorCause.SiloFailover
        ? $"The floor {Floor} is set by silo failover: a lease must outlive a silo failover of T_failover = EstimatedFailover {EstimatedFailover} " +
          "(TTL − P − m > T_failover and ht − m_w ≥ T_failover + keep-alive interval + kt). The silo host sets EstimatedFailover to " +
          "ProbeTimeout × (NumMissedProbesLimit + 1) + 1 s from CycleLock:Silo:ProbeTimeout and CycleLock:Silo:NumMissedProbesLimit " +
          $"(the answering silo: ProbeTimeout {ProbeTimeout}, NumMissedProbesLimit {NumMissedProbesLimit}). To lower the floor, lower those two " +
          "settings on every silo: failures are detected sooner, at the price of more false suspicions of slow silos. " +
          $"The database-fault floor alone is {DatabaseFloor}."
        : $"The floor {Floor} is set by the database-fault budget: P/2 ≥ MinAttemptTimeout {MinAttemptTimeout}, P ≤ (TTL − m)/3 and " +
          $"TTL − P − m ≥ MinDatabaseFaultTolerance {MinDatabaseFaultTolerance} (CycleLock:Locks:MinAttemptTimeout, MinDatabaseFaultTolerance, " +
          "RenewFraction, MarginFraction, MarginBase). To lower it, lower those settings on every silo: shorter database attempts, " +
          "a shorter database outage survived." +
          (FailoverFloorEnforced ? string.Empty : $" The silo-failover floor ({(FailoverFloor == TimeSpan.MaxValue ? "none up to " + MaxTtl : FailoverFloor)}) is not enforced here (CycleLock:Locks:FailoverFloor = Warn: a single-silo host).");
}
