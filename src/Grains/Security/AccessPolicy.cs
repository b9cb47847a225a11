using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace CycleLock.Security;

/// <summary>
/// The silo's credentials, as SHA-256 digests of their secrets, and the checks a call goes through: who
/// presents the credential (compared in constant time), and whether that credential may make the call. Built
/// once from <see cref="AccessOptions"/>; the secrets themselves are not kept.
/// </summary>
public sealed class AccessPolicy
{
    private static readonly byte[] NoSuchCredential = SHA256.HashData("no such credential"u8);

    private readonly Dictionary<string, (byte[] Digest, Principal Principal)> _credentials;
    private readonly byte[] _internalDigest;

    /// <summary>Builds the policy from validated options.</summary>
    public AccessPolicy(IOptions<AccessOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _credentials = new Dictionary<string, (byte[], Principal)>(StringComparer.Ordinal);
        foreach (var (name, settings) in options.Value.Credentials)
        {
            var isOperator = settings.Role == AccessRoles.Operator;
            var patterns = isOperator ? [] : settings.Prefixes.Select(NamePattern.Parse).ToArray();
            _credentials[name] = (Digest(settings.Secret), new Principal(name, isOperator, patterns));
        }

        // The token silos put on their own calls to grains: derived from every credential (name, role, secret), so every
        // silo of a deployment with the same access settings holds the same one, and no client can compute it.
        var material = new StringBuilder("cyclelock-internal-v1\n");
        foreach (var (name, settings) in options.Value.Credentials.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            material.Append(name).Append('\n').Append(settings.Role).Append('\n').Append(settings.Secret).Append('\n');
        }

        InternalToken = IsOpen ? null : Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(material.ToString())));
        _internalDigest = InternalToken is null ? NoSuchCredential : Digest(InternalToken);
    }

    /// <summary>The token this silo's calls to grains carry (<see cref="AccessContext.InternalKey"/>); null when open.</summary>
    public string? InternalToken { get; }

    /// <summary>Whether <paramref name="token"/> is this deployment's internal token (constant time).</summary>
    public bool IsInternal(string? token) =>
        token is not null && InternalToken is not null && CryptographicOperations.FixedTimeEquals(Digest(token), _internalDigest);

    /// <summary>True when no credential is configured: every caller is <see cref="Principal.Anonymous"/>.</summary>
    public bool IsOpen => _credentials.Count == 0;

    /// <summary>The principal <paramref name="presented"/> (<c>NAME:SECRET</c>) authenticates, or the rule it
    /// breaks in <paramref name="rule"/> (<c>credential-required</c>, <c>unknown-credential</c>) and the name it
    /// claimed in <paramref name="claimed"/>.</summary>
    public Principal? Authenticate(string? presented, out string rule, out string? claimed)
    {
        claimed = null;
        rule = string.Empty;
        if (IsOpen)
        {
            return Principal.Anonymous;
        }

        var colon = presented?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        if (presented is null || colon <= 0)
        {
            rule = "credential-required";
            return null;
        }

        var name = presented[..colon];
        claimed = AccessOptionsValidator.IsValidName(name) ? name : null;
        var known = _credentials.TryGetValue(name, out var entry);

        // The same work whether the name is known or not; the digests compared in constant time.
        var digest = Digest(presented.AsSpan(colon + 1));
        var matches = CryptographicOperations.FixedTimeEquals(digest, known ? entry.Digest : NoSuchCredential);
        if (known && matches)
        {
            return entry.Principal;
        }

        rule = "unknown-credential";
        return null;
    }

    private static byte[] Digest(ReadOnlySpan<char> secret)
    {
        var bytes = new byte[Encoding.UTF8.GetMaxByteCount(secret.Length)];
        var count = Encoding.UTF8.GetBytes(secret, bytes);
        try
        {
            return SHA256.HashData(bytes.AsSpan(0, count));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }
}

/// <summary>An authenticated caller: a credential's name, whether it is an operator, and a worker's name patterns.</summary>
public sealed record Principal(string Name, bool IsOperator, IReadOnlyList<NamePattern> Patterns)
{
    /// <summary>Every caller of a silo without credentials: an operator named <c>anonymous</c>.</summary>
    public static Principal Anonymous { get; } = new("anonymous", true, []);

    /// <summary>Whether this principal may use lock <paramref name="name"/>.</summary>
    public bool MayUse(string name) => IsOperator || Patterns.Any(p => p.Matches(name));
}
