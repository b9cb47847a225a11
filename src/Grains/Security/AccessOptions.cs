namespace CycleLock.Security;

/// <summary>
/// Who may call the silo (section <c>CycleLock:Access</c>). With no credentials configured the silo is open:
/// every caller is the operator <c>anonymous</c> (meant for a cluster whose endpoints are loopback only; the
/// silo host refuses other endpoints without credentials unless <see cref="AllowAnonymous"/> is set). With
/// credentials, every call from a client must present one (<c>NAME:SECRET</c>, the SDK's
/// <c>CycleLock:Client:Credential</c> or <c>CYCLELOCK_CREDENTIAL</c>), checked in the silo before the call runs.
/// </summary>
public sealed class AccessOptions
{
    /// <summary>The configuration section these settings bind from.</summary>
    public const string Section = "CycleLock:Access";

    /// <summary>The credentials, by name (1 to 64 letters, digits, <c>.</c>, <c>_</c> or <c>-</c>), e.g.
    /// <c>CycleLock__Access__Credentials__billing__Secret</c>. Default none (open).</summary>
    public Dictionary<string, CredentialOptions> Credentials { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Let a silo whose endpoints are not loopback run without credentials (every client an operator).
    /// Default false: such a silo refuses to start.</summary>
    public bool AllowAnonymous { get; set; }
}

/// <summary>One credential of <see cref="AccessOptions.Credentials"/>.</summary>
public sealed class CredentialOptions
{
    /// <summary>The secret the caller presents after <c>NAME:</c>: 16 to 1 024 characters, not a placeholder
    /// (<c>change-me</c> and the like). The silo keeps only its SHA-256 and compares in constant time; it is
    /// never logged or shown.</summary>
    public string Secret { get; set; } = string.Empty;

    /// <summary><c>Worker</c> (acquire, wait, keep-alive, release, inspect and history of the locks its
    /// <see cref="Prefixes"/> match; the deployment's limits, list and event feed) or <c>Operator</c> (everything,
    /// including force-release and reset, on every lock). Default Worker.</summary>
    public string Role { get; set; } = AccessRoles.Worker;

    /// <summary>A worker's lock names: <c>billing/*</c> (every name starting with <c>billing/</c>), <c>*</c> (every
    /// name) or an exact name. At least one for a worker; ignored for an operator.</summary>
    public List<string> Prefixes { get; set; } = [];
}

/// <summary>The roles a credential may have.</summary>
public static class AccessRoles
{
    /// <summary>Acquires the locks its prefixes match.</summary>
    public const string Worker = "Worker";

    /// <summary>Everything, on every lock.</summary>
    public const string Operator = "Operator";
}
