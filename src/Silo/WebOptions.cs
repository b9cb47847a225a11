namespace CycleLock.Silo;

/// <summary>The silo's web host (section <c>CycleLock:Web</c>): the Orleans Dashboard, the lease view,
/// <c>/health</c> and <c>/metrics</c>.</summary>
public sealed class WebOptions
{
    /// <summary>The configuration section these settings bind from.</summary>
    public const string Section = "CycleLock:Web";

    /// <summary>The port of the default <see cref="Url"/>.</summary>
    public const int DefaultLoopbackPort = 8080;

    /// <summary>Where the web host listens. Default <c>http://127.0.0.1:8080</c> (loopback).</summary>
    public string Url { get; set; } = "http://127.0.0.1:8080";

    /// <summary>The operator user for HTTP basic authentication. Default <c>operator</c>.</summary>
    public string User { get; set; } = "operator";

    /// <summary>Serve the password-protected web host over plain http on a non-loopback address, because TLS
    /// terminates in front of the silo (an ingress, a sidecar). Default false.</summary>
    public bool AllowPlainHttp { get; set; }

    /// <summary>The operator password. When set, the dashboard and the lease view require it (HTTP basic
    /// authentication); it must be set when <see cref="Url"/> is not a loopback address. Default none.</summary>
    public string? Password { get; set; }
}
