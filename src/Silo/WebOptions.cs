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

    /// <summary>The host names requests may carry (the <c>Host</c> header), separated by <c>;</c> — a request for any
    /// other is refused with 400, so a DNS-rebinding page cannot reach the web host through a victim's browser.
    /// Default: the host of <see cref="Url"/> and <c>localhost</c>; required when <see cref="Url"/> listens on every
    /// address (<c>0.0.0.0</c>, <c>[::]</c>), e.g. <c>cyclelock.example.internal;localhost</c>.</summary>
    public string? AllowedHosts { get; set; }

    /// <summary>The allowed host names: <see cref="AllowedHosts"/>, or the default for <see cref="Url"/>; empty when
    /// <see cref="Url"/> listens on every address and none are configured.</summary>
    public IReadOnlyList<string> AllowedHostList()
    {
        if (!string.IsNullOrWhiteSpace(AllowedHosts))
        {
            return AllowedHosts.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        if (!Uri.TryCreate(Url, UriKind.Absolute, out var url) || url.Host is "0.0.0.0" or "[::]" or "::" or "*" or "+")
        {
            return [];
        }

        return url.IsLoopback ? [url.Host, "localhost", "127.0.0.1", "[::1]"] : [url.Host, "localhost"];
    }

    /// <summary>The operator password. When set, the dashboard and the lease view require it (HTTP basic
    /// authentication); it must be set when <see cref="Url"/> is not a loopback address. Default none.</summary>
    public string? Password { get; set; }
}
