namespace CycleLock;

/// <summary>Which part of the timing budget (DESIGN §6) sets a deployment's TTL floor.</summary>
public enum TtlFloorCause
{
    /// <summary>The database-fault budget: P/2 ≥ MinAttemptTimeout, P ≤ (TTL − m)/3 and
    /// TTL − P − m ≥ MinDatabaseFaultTolerance (single-silo hosts, or when the failover floor is lower).</summary>
    DatabaseFault = 0,

    /// <summary>The silo-failover budget: a lease must outlive a silo failover of T_failover
    /// (EstimatedFailover, from the membership settings ProbeTimeout and NumMissedProbesLimit).</summary>
    SiloFailover = 1,
}
