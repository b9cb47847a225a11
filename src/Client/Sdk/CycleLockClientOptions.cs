using System.ComponentModel.DataAnnotations;

namespace CycleLock.Client;

/// <summary>Worker SDK settings. The margin formula must match the silo's (DESIGN §6).</summary>
public sealed class CycleLockClientOptions
{
    /// <summary>Label shown to operators for this worker's locks. Default: machine name and process id.</summary>
    [Required]
    public string HolderLabel { get; set; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>Lease length when an acquire names none. Default 60 s.</summary>
    public TimeSpan DefaultTtl { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Timeout of one acquire call. Default 5 s.</summary>
    public TimeSpan AcquireCallTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Tries of one acquire with the same holder id and key before it is abandoned. Default 3.</summary>
    [Range(1, 10)]
    public int AcquireTries { get; set; } = 3;

    /// <summary>Proportional part of the margin m = TTL × this + <see cref="MarginBase"/>. Default 1/20 (as the silo).</summary>
    public double MarginFraction { get; set; } = 0.05;

    /// <summary>Fixed part of the margin. Default 250 ms (as the silo).</summary>
    public TimeSpan MarginBase { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Holder timeout as a fraction of TTL. Default 1/2 (as the silo).</summary>
    public double HolderTimeoutFraction { get; set; } = 0.5;

    /// <summary>m_w = m/2 for a TTL.</summary>
    public TimeSpan SdkMarginFor(TimeSpan ttl) => ((ttl * MarginFraction) + MarginBase) / 2;

    /// <summary>ht for a TTL.</summary>
    public TimeSpan HolderTimeoutFor(TimeSpan ttl) => ttl * HolderTimeoutFraction;
}
