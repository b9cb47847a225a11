namespace CycleLock.Silo;

/// <summary>Settings of the silo host (section <c>CycleLock:Silo</c>), checked by
/// <see cref="SiloHostOptionsValidator"/> before anything starts.</summary>
public sealed class SiloHostOptions
{
    /// <summary>Orleans ServiceId: the namespace of lease rows; every silo and client of a deployment uses
    /// the same one. Default <c>cyclelock</c>.</summary>
    public string ServiceId { get; set; } = "cyclelock";

    /// <summary>Orleans ClusterId. Default <c>dev</c>.</summary>
    public string ClusterId { get; set; } = "dev";

    /// <summary>Membership: <c>Localhost</c> (one silo, the dev default) or <c>AdoNet</c> (PostgreSQL, any number of silos). Default Localhost.</summary>
    public string Clustering { get; set; } = "Localhost";

    /// <summary>The address other silos and clients reach this silo at (AdoNet). Default 127.0.0.1.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Silo-to-silo port. Default 11111; 1 to 65535.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Client gateway port. The gateway has no authentication of its own: keep it on loopback or
    /// behind mutual TLS. Default 30000; 1 to 65535.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The port the gateway listens on when it differs from the advertised <see cref="GatewayPort"/>
    /// (a port mapping or a TCP proxy in front of the gateway; clients connect to the advertised port, and
    /// Orleans clients address the gateway by it, so a proxy must listen there). Default none (the gateway
    /// listens on <see cref="GatewayPort"/>); 1 to 65535. Not with Kubernetes or localhost clustering.</summary>
    public int? GatewayListeningPort { get; set; }

    /// <summary>Running in Kubernetes: take the silo's name, address and cluster from the pod
    /// (<c>Microsoft.Orleans.Hosting.Kubernetes</c>; with AdoNet membership). Default false.</summary>
    public bool Kubernetes { get; set; }

    /// <summary>Membership probe timeout. Default 2 s (Orleans' default is 5 s); 0.5 s to 60 s.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Missed probes before a silo is suspected. Default 2 (Orleans' default is 3); 1 to 10.</summary>
    public int NumMissedProbesLimit { get; set; } = 2;

    /// <summary>The estimated failover time T_failover = ProbeTimeout × (NumMissedProbesLimit + 1) + 1 s
    /// (activation and adoption allowance), which the timing budget is checked against.</summary>
    public TimeSpan EstimatedFailover => (ProbeTimeout * (NumMissedProbesLimit + 1)) + TimeSpan.FromSeconds(1);
}
