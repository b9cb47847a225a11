using System.Globalization;
using System.Text;

namespace CycleLock;

/// <summary>
/// Lock-name rules: a name is stored NFC-normalised and must be non-empty, at most
/// <see cref="MaxUtf8Bytes"/> UTF-8 bytes after normalisation, without control characters, invisible format
/// characters (zero-width, bidirectional controls, byte order marks) or U+FFFD, and without leading or trailing
/// white space.
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

        if (LoneSurrogateAt(name) is { } i)
        {
            throw new ArgumentException($"Lock name {Quote(name)} is not valid Unicode: lone surrogate U+{(int)name[i]:X4} at index {i} (rule: names must be well-formed UTF-16 text).", nameof(name));
        }

        var normalized = name.Normalize(NormalizationForm.FormC);

        var bytes = Encoding.UTF8.GetByteCount(normalized);
        if (bytes > MaxUtf8Bytes)
        {
            throw new ArgumentException($"Lock name {Quote(normalized)} is {bytes} UTF-8 bytes after NFC normalisation (rule: at most {MaxUtf8Bytes}).", nameof(name));
        }

        var index = 0;
        foreach (var rune in normalized.EnumerateRunes())
        {
            if (Rune.IsControl(rune) || rune.Value is 0x2028 or 0x2029)
            {
                throw new ArgumentException($"Lock name {Quote(normalized)} contains control character U+{rune.Value:X4} at index {index} (rule: no control characters).", nameof(name));
            }

            // Invisible text makes two names look alike (a zero-width space, a BOM) or one name look like another
            // ("job-\u202Egnp.exe" displays as "job-exe.png"); U+FFFD is what a decoder puts for text it lost, so
            // two different names sent by a raw client would meet in one lock.
            if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.Format)
            {
                throw new ArgumentException($"Lock name {Quote(normalized)} contains invisible format character U+{rune.Value:X4} at index {index} (rule: no format characters: zero-width, bidirectional controls, byte order marks).", nameof(name));
            }

            if (rune.Value == 0xFFFD)
            {
                throw new ArgumentException($"Lock name {Quote(normalized)} contains replacement character U+FFFD at index {index} (rule: no U+FFFD, the mark of text lost in decoding).", nameof(name));
            }

            index += rune.Utf16SequenceLength;
        }

        if (char.IsWhiteSpace(normalized[0]) || char.IsWhiteSpace(normalized[^1]))
        {
            throw new ArgumentException($"Lock name {Quote(normalized)} starts or ends with white space (rule: no leading or trailing white space).", nameof(name));
        }

        return normalized;
    }

    /// <summary>The index of the first lone surrogate of <paramref name="text"/>, or null when it is well-formed UTF-16.</summary>
    public static int? LoneSurrogateAt(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return i;
            }
        }

        return null;
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
        ArgumentNullException.ThrowIfNull(value);
        var sb = new StringBuilder("\"");
        Escape(sb, value.Length > 80 ? value[..80] : value);
        sb.Append(value.Length > 80 ? "\"…" : "\"");
        return sb.ToString();
    }

    /// <summary>A label, reason or name as an operator should see it: control characters, invisible format characters
    /// (zero-width, bidirectional controls) and lone surrogates written as <c>\uXXXX</c>, so text cannot hide or
    /// reorder what is shown next to it. Null stays null.</summary>
    public static string? Printable(string? value)
    {
        if (value is null || !value.Any(NeedsEscape))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length + 16);
        Escape(sb, value);
        return sb.ToString();
    }

    private static void Escape(StringBuilder sb, string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                sb.Append(c).Append(value[++i]);
            }
            else if (NeedsEscape(c))
            {
                sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                sb.Append(c);
            }
        }
    }

    private static bool NeedsEscape(char c) =>
        char.IsControl(c) || char.IsSurrogate(c) || c is '\u2028' or '\u2029' || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format;
}
