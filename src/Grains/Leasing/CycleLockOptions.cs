using System.ComponentModel.DataAnnotations;

namespace CycleLock.Leasing;

/// <summary>
/// The timing budget (DESIGN §6). P, ht and m are fractions of each lease's own TTL. Checked at silo
/// start by <see cref="CycleLockOptionsValidator"/>; a TTL below <see cref="LeaseTiming.Floor"/> is
/// rejected at acquire.
/// </summary>
public sealed class CycleLockOptions
{
    /// <summary>The configuration section these settings bind from.</summary>
    public const string Section = "CycleLock:Locks";

    /// <summary>Renew period P as a fraction of TTL. Default 1/6; (0, 1/3].</summary>
    [Range(0.01, 1.0 / 3)]
    public double RenewFraction { get; set; } = 1.0 / 6;

    /// <summary>Holder timeout ht as a fraction of TTL. Default 1/2; (0, 1).</summary>
    [Range(0.05, 0.95)]
    public double HolderTimeoutFraction { get; set; } = 0.5;

    /// <summary>The proportional part of the safety margin m = TTL × this + <see cref="MarginBase"/>. Default 1/20.</summary>
    [Range(0.0, 0.25)]
    public double MarginFraction { get; set; } = 0.05;

    /// <summary>The fixed part of the safety margin (clock steps, timer slack). Default 250 ms; 0 to 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan MarginBase { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest per-attempt database timeout (the attempt timeout is min(P/2, this)). Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan MaxAttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Shortest per-attempt database timeout a TTL may imply (sets the database-fault floor). Default 250 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan MinAttemptTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest backoff between renewal attempts (the backoff cap is min(P/4, this)). Default 2 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Shortest database fault every lease must survive (TTL − P − m ≥ this; sets the floor). Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan MinDatabaseFaultTolerance { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Estimated silo failover time T_failover. The silo host sets it from its membership
    /// options (ProbeTimeout × (NumMissedProbesLimit + 1) + 1 s). Default 7 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan EstimatedFailover { get; set; } = TimeSpan.FromSeconds(7);

    /// <summary>Whether the silo-failover floor is enforced at acquire. Default <see cref="FailoverFloorMode.Enforce"/>.</summary>
    public FailoverFloorMode FailoverFloor { get; set; } = FailoverFloorMode.Enforce;

    /// <summary>Stalls after which a lock is dead until reset; 0 never. Default 3.</summary>
    [Range(0, 1000)]
    public int MaxStalls { get; set; } = 3;

    /// <summary>How long a freed lock is reserved for the waiter it is offered to. Default 1 s; 50 ms to 1 min.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan OfferWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest a waiter's registration lasts without being renewed: min(ht, this). The SDK renews it
    /// every third of it, so a waiter whose process died is forgotten within this, however long the TTL
    /// it waits for. Default 30 s; 1 s to 10 min.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan MaxWaiterRegistration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most waiters one lock keeps; more are told the queue is full. Default 1 000; 1 to 100 000.</summary>
    [Range(1, 100_000)]
    public int MaxWaiters { get; set; } = 1000;

    /// <summary>Most leases one holder label may hold on one silo; more acquires are answered busy
    /// (<see cref="BusyReason.Limit"/>) before the database is asked. Default 10 000; 1 to 10 000 000.</summary>
    [Range(1, 10_000_000)]
    public int MaxLeasesPerHolderLabel { get; set; } = 10_000;

    /// <summary>Most leases one silo serves; more acquires are answered busy (<see cref="BusyReason.Limit"/>). Default
    /// 250 000 (about 1.7 GiB of silo memory at the measured 7 KiB per lease); 1 to 10 000 000.</summary>
    [Range(1, 10_000_000)]
    public int MaxLeasesPerSilo { get; set; } = 250_000;

    /// <summary>How often the lock-event feed reads history while it has subscribers. Default 1 s; 50 ms to 1 min.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00")]
    public TimeSpan EventPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest TTL an acquire is granted with: one grant that never keeps alive can take a lock away for
    /// half of it (the holder timeout), so the bound is a deployment's choice. Default 1 h; 1 min to 24 h.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan MaxTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Whether a force-release may skip the fence (<see cref="ForceReleaseRequest.SkipDelay"/>): the one call
    /// that grants the lock again while a displaced holder may still act on its promise. Off, such a request is refused
    /// with an error naming this setting and changes nothing. Default false.</summary>
    public bool AllowSkipDelay { get; set; }

    /// <summary>Whether the renewals and adoptions of the silo's grains are coalesced into one statement per
    /// flush (DESIGN §11). Off, each lease renews with its own statement. Default true.</summary>
    public bool CoalesceRenewals { get; set; } = true;

    /// <summary>Renewal coalescing (DESIGN §11): a grain hands its renewal to the silo's coalescer this long
    /// before it is due, and the coalescer writes every renewal pending when the most urgent one falls due in
    /// one statement. Zero sends each renewal as soon as the previous batch is done. Default 100 ms; 0 to
    /// MinAttemptTimeout / 2 (so it is at most P/4 at every allowed TTL).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:05")]
    public TimeSpan CoalescingWindow { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Whether the acquires, releases and abandons of the silo's grains are coalesced into one statement
    /// and one durable commit per flush (issue 16; <c>docs/benchmarks.md</c>). A flush starts at once when a slot is
    /// free — no window is waited — so an uncontended acquire is not delayed; under load, what arrives while flushes
    /// are in flight shares the next commit. Off, each is its own statement. Default true.</summary>
    public bool CoalesceChanges { get; set; } = true;

    /// <summary>How many coalesced change flushes may be in flight at once: more lowers the wait for a slot at
    /// light load, fewer makes bigger batches at heavy load. Default 1 (measured best on 2 cores: docs/benchmarks.md,
    /// "Flushes in flight"); 1 to 16.</summary>
    [Range(1, 16)]
    public int ChangeFlushesInFlight { get; set; } = 1;

    /// <summary>Most acquires, releases and abandons one coalesced statement applies; more wait for the next flush.
    /// Kept well inside one attempt timeout. Default 1 000; 1 to 10 000.</summary>
    [Range(1, 10_000)]
    public int MaxChangeBatchSize { get; set; } = 1_000;

    /// <summary>Most leases one coalesced statement renews or adopts; more wait for the next one.
    /// Default 20 000; 1 to 1 000 000.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchSize { get; set; } = 20_000;
}
