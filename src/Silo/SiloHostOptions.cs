using System.ComponentModel.DataAnnotations;

namespace CycleLock.Silo;

/// <summary>Settings of the silo host (section <c>CycleLock:Silo</c>): per-setting rules as data annotations, rules
/// across settings in <see cref="SiloHostOptionsValidator"/>, both checked before anything starts.</summary>
public sealed class SiloHostOptions
{
    /// <summary>The configuration section these settings bind from.</summary>
    public const string Section = "CycleLock:Silo";

    /// <summary>Orleans ServiceId: the namespace of lease rows; every silo and client of a deployment uses
    /// the same one. Default <c>cyclelock</c>.</summary>
    [Required]
    [StringLength(150, MinimumLength = 1)]
    public string ServiceId { get; set; } = "cyclelock";

    /// <summary>Orleans ClusterId. Default <c>dev</c>.</summary>
    [Required]
    [StringLength(150, MinimumLength = 1)]
    public string ClusterId { get; set; } = "dev";

    /// <summary>Membership: <c>Localhost</c> (one silo, the dev default) or <c>AdoNet</c> (PostgreSQL, any number of silos). Default Localhost.</summary>
    [AllowedValues("Localhost", "AdoNet")]
    public string Clustering { get; set; } = "Localhost";

    /// <summary>The address other silos and clients reach this silo at (AdoNet). Default 127.0.0.1.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Silo-to-silo port. Default 11111; 1 to 65535.</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Client gateway port. The gateway has no authentication of its own: keep it on loopback or
    /// behind mutual TLS. Default 30000; 1 to 65535.</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The port the gateway listens on when it differs from the advertised <see cref="GatewayPort"/>
    /// (a port mapping or a TCP proxy in front of the gateway; clients connect to the advertised port, and
    /// Orleans clients address the gateway by it, so a proxy must listen there). Default none (the gateway
    /// listens on <see cref="GatewayPort"/>); 1 to 65535. Not with Kubernetes or localhost clustering.</summary>
    [Range(1, 65535)]
    public int? GatewayListeningPort { get; set; }

    /// <summary>Running in Kubernetes: take the silo's name, address and cluster from the pod
    /// (<c>Microsoft.Orleans.Hosting.Kubernetes</c>; with AdoNet membership). Default false.</summary>
    public bool Kubernetes { get; set; }

    /// <summary>Membership probe timeout. Default 2 s (Orleans' default is 5 s); 0.5 s to 60 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:01:00")]
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Missed probes before a silo is suspected. Default 2 (Orleans' default is 3); 1 to 10.</summary>
    [Range(1, 10)]
    public int NumMissedProbesLimit { get; set; } = 2;

    /// <summary>The estimated failover time T_failover = ProbeTimeout × (NumMissedProbesLimit + 1) + 1 s
    /// (activation and adoption allowance), which the timing budget is checked against.</summary>
    public TimeSpan EstimatedFailover => (ProbeTimeout * (NumMissedProbesLimit + 1)) + TimeSpan.FromSeconds(1);
}
