namespace CycleLock.Leasing;

/// <summary>Whether acquire rejects TTLs below the silo-failover floor.</summary>
public enum FailoverFloorMode
{
    /// <summary>Reject a TTL that a silo failover could outlast (production default).</summary>
    Enforce = 0,

    /// <summary>Only warn: for single-silo and in-process test hosts, which never kill silos.</summary>
    Warn = 1,
}
