using System.ComponentModel.DataAnnotations;

namespace CycleLock.Client;

/// <summary>Worker SDK settings (section <c>CycleLock:Client</c>): per-setting rules as data annotations, the rest in
/// <see cref="CycleLockClientOptionsValidator"/>, both checked (on start when
/// registered with <c>AddCycleLockClient</c>, and by the <see cref="CycleLockClient"/> constructor).
/// The holder timeout and margin of a lease come from the silo with its grant; the fractions here are used only
/// with a silo that predates that.</summary>
public sealed class CycleLockClientOptions
{
    /// <summary>The configuration section these settings bind from.</summary>
    public const string Section = "CycleLock:Client";

    /// <summary>Label shown to operators for this worker's locks. Default: machine name and process id; at
    /// most 200 characters, no control characters.</summary>
    public string HolderLabel { get; set; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>Lease length when an acquire names none. Default 60 s; more than 0, at most 24 h, and not below
    /// the cluster's TTL floor (<see cref="CycleLockClient.Limits"/>; checked when an <c>AddCycleLockClient</c>
    /// host starts, which then fails naming the floor and the settings that set it).</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan DefaultTtl { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest timeout of one acquire try: the first try waits min(this, 2 s), each retry twice as long up to
    /// this. Default 5 s; 100 ms to 5 min.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan AcquireCallTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Tries of one acquire with the same holder id and key before it is abandoned, with a backoff of 100 ms
    /// doubling to 2 s between them (the default tries outlast a gateway blip or a silo failover). Default 8; 1 to 10.</summary>
    [Range(1, 10)]
    public int AcquireTries { get; set; } = 8;

    /// <summary>Longest timeout of one release try: the first try waits min(this, 2 s), each retry twice as long up to
    /// this. Default 5 s; 100 ms to 5 min.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan ReleaseCallTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Tries of one release before the handle gives up (the grain then ends the lease by stall), with a
    /// backoff of 100 ms doubling to 2 s between them. Default 8; 1 to 10.</summary>
    [Range(1, 10)]
    public int ReleaseTries { get; set; } = 8;

    /// <summary>Consecutive "moved" answers retried quickly (with 20–120 ms jitter) before the handle falls
    /// back to its normal cadence and reports jeopardy. Default 20; 1 to 1 000.</summary>
    [Range(1, 1000)]
    public int MaxMovedRetries { get; set; } = 20;

    /// <summary>Proportional part of the margin m = TTL × this + <see cref="MarginBase"/>, used only when the grant does not
    /// carry the silo's margin (an older silo). Default 1/20 (as the silo); 0 to 0.25.</summary>
    [Range(0.0, 0.25)]
    public double MarginFraction { get; set; } = 0.05;

    /// <summary>Fixed part of the margin. Default 250 ms (as the silo); 0 to 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan MarginBase { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Holder timeout as a fraction of TTL, used only when the grant does not carry the silo's holder timeout
    /// (an older silo). Default 1/2 (as the silo); 0.05 to 0.95.</summary>
    [Range(0.05, 0.95)]
    public double HolderTimeoutFraction { get; set; } = 0.5;

    /// <summary>The credential this client presents to silos that require one, <c>NAME:SECRET</c> (section
    /// <c>CycleLock:Access</c> of the silo). Set it from configuration or an environment variable
    /// (<c>CycleLock__Client__Credential</c>), never from a command-line argument. Default none.</summary>
    public string? Credential { get; set; }

    /// <summary>m_w = m/2 for a TTL.</summary>
    public TimeSpan SdkMarginFor(TimeSpan ttl) => ((ttl * MarginFraction) + MarginBase) / 2;

    /// <summary>ht for a TTL.</summary>
    public TimeSpan HolderTimeoutFor(TimeSpan ttl) => ttl * HolderTimeoutFraction;
}
