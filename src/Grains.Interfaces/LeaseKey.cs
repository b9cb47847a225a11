using System.Security.Cryptography;

namespace CycleLock;

/// <summary>
/// The secret a holder sends with every call for its lease. Only its SHA-256 is stored; its text never
/// appears in <see cref="ToString"/> and so never in logs.
/// </summary>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.LeaseKey")]
public readonly record struct LeaseKey([property: Id(0)] string Value)
{
    /// <summary>A fresh random key (32 bytes, base64url).</summary>
    public static LeaseKey New() => new(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_'));

    /// <summary>The SHA-256 of the key's UTF-8 text, as stored.</summary>
    public byte[] Hash() => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Value ?? string.Empty));

    /// <summary>True when the key is missing or blank.</summary>
    public bool IsEmpty => string.IsNullOrWhiteSpace(Value);

    /// <inheritdoc />
    public override string ToString() => "LeaseKey(redacted)";
}
