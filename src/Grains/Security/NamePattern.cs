namespace CycleLock.Security;

/// <summary>A worker credential's lock-name pattern: <c>billing/*</c> matches every name starting with
/// <c>billing/</c>, <c>*</c> every name, anything else exactly that name (ordinal, on the NFC-normalised name).</summary>
public readonly record struct NamePattern
{
    private NamePattern(string text, bool isPrefix)
    {
        Text = text;
        IsPrefix = isPrefix;
    }

    /// <summary>The name, or the prefix before the <c>*</c>.</summary>
    public string Text { get; }

    /// <summary>True for a pattern ending in <c>*</c>.</summary>
    public bool IsPrefix { get; }

    /// <summary>Parses a pattern (check it first with <see cref="Problem"/>).</summary>
    public static NamePattern Parse(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (Problem(pattern) is { } problem)
        {
            throw new ArgumentException($"Name pattern {LockName.Quote(pattern)} {problem}", nameof(pattern));
        }

        var normalized = pattern.Normalize(System.Text.NormalizationForm.FormC);
        return normalized.EndsWith('*') ? new NamePattern(normalized[..^1], true) : new NamePattern(normalized, false);
    }

    /// <summary>What is wrong with <paramref name="pattern"/>, or null.</summary>
    public static string? Problem(string? pattern)
    {
        if (string.IsNullOrEmpty(pattern))
        {
            return "is empty (rule: billing/*, * or an exact lock name).";
        }

        if (pattern.Length > LockName.MaxUtf8Bytes + 1)
        {
            return $"is {pattern.Length} characters long (rule: at most {LockName.MaxUtf8Bytes + 1}).";
        }

        var star = pattern.IndexOf('*', StringComparison.Ordinal);
        if (star >= 0 && star != pattern.Length - 1)
        {
            return "has a '*' before its end (rule: '*' only as the last character, meaning any rest of the name).";
        }

        // The text before the '*' follows the lock-name rules (well-formed, no control or format characters).
        var text = star >= 0 ? pattern[..star] : pattern;
        try
        {
            _ = text.Length == 0 ? text : LockName.Normalize(text);
        }
        catch (ArgumentException e)
        {
            return $"is not a valid name or name prefix ({e.Message})";
        }

        return null;
    }

    /// <summary>Whether <paramref name="name"/> (an NFC-normalised lock name) matches.</summary>
    public bool Matches(string name) =>
        IsPrefix ? name.StartsWith(Text, StringComparison.Ordinal) : string.Equals(name, Text, StringComparison.Ordinal);

    /// <inheritdoc />
    public override string ToString() => IsPrefix ? Text + "*" : Text;
}
