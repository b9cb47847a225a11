using System.ComponentModel.DataAnnotations;

namespace CycleLock.Silo;

/// <summary>Settings of the silo host (section <c>CycleLock:Silo</c>).</summary>
public sealed class SiloHostOptions
{
    /// <summary>Orleans ServiceId: the namespace of lease rows. Default <c>cyclelock</c>.</summary>
    [Required]
    public string ServiceId { get; set; } = "cyclelock";

    /// <summary>Orleans ClusterId. Default <c>dev</c>.</summary>
    [Required]
    public string ClusterId { get; set; } = "dev";

    /// <summary>Silo-to-silo port. Default 11111.</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Client gateway port (no authentication: keep it on loopback or behind mutual TLS). Default 30000.</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;
}
