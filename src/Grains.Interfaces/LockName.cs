using System.Text;

namespace CycleLock;

/// <summary>
/// Lock-name rules: a name is stored NFC-normalised and must be non-empty, at most
/// <see cref="MaxUtf8Bytes"/> UTF-8 bytes after normalisation, without control characters and
/// without leading or trailing white space.
/// </summary>
public static class LockName
{
    /// <summary>Longest name, in UTF-8 bytes after NFC normalisation: 256.</summary>
    public const int MaxUtf8Bytes = 256;

    /// <summary>Returns the NFC form of <paramref name="name"/> or throws <see cref="ArgumentException"/>
    /// naming the value and the rule it breaks.</summary>
    public static string Normalize(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException("Lock name must not be empty (rule: 1 to 256 UTF-8 bytes after NFC normalisation).", nameof(name));
        }

        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsHighSurrogate(name[i]) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(name[i]))
            {
                throw new ArgumentException($"Lock name {Quote(name)} is not valid Unicode: lone surrogate U+{(int)name[i]:X4} at index {i} (rule: names must be well-formed UTF-16 text).", nameof(name));
            }
        }

        var normalized = name.Normalize(NormalizationForm.FormC);

        var bytes = Encoding.UTF8.GetByteCount(normalized);
        if (bytes > MaxUtf8Bytes)
        {
            throw new ArgumentException($"Lock name {Quote(normalized)} is {bytes} UTF-8 bytes after NFC normalisation (rule: at most {MaxUtf8Bytes}).", nameof(name));
        }

        for (var i = 0; i < normalized.Length; i++)
        {
            if (char.IsControl(normalized[i]) || normalized[i] is '\u2028' or '\u2029')
            {
                throw new ArgumentException($"Lock name {Quote(normalized)} contains control character U+{(int)normalized[i]:X4} at index {i} (rule: no control characters).", nameof(name));
            }
        }

        if (char.IsWhiteSpace(normalized[0]) || char.IsWhiteSpace(normalized[^1]))
        {
            throw new ArgumentException($"Lock name {Quote(normalized)} starts or ends with white space (rule: no leading or trailing white space).", nameof(name));
        }

        return normalized;
    }

    /// <summary>True when <paramref name="name"/> is already a valid, normalised name.</summary>
    public static bool IsNormalized(string? name)
    {
        try
        {
            return Normalize(name) == name;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Quotes a value for an error message, escaping control characters and shortening long values.</summary>
    public static string Quote(string value)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in value.Length > 80 ? value[..80] : value)
        {
            if (char.IsControl(c) || char.IsSurrogate(c))
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                sb.Append(c);
            }
        }

        sb.Append(value.Length > 80 ? "\"…" : "\"");
        return sb.ToString();
    }
}
