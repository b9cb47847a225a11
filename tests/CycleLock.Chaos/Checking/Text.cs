using System.Globalization;

namespace CycleLock.Chaos.Checking;

/// <summary>Invariant formatting of times and durations for violation details and the report.</summary>
internal static class Text
{
    /// <summary>A UTC instant with microseconds (commit timestamps have that resolution).</summary>
    public static string At(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>An instant, or "never" for an open end.</summary>
    public static string At(DateTimeOffset? at) => at is { } value ? At(value) : "never";

    /// <summary>A duration in seconds with millisecond precision.</summary>
    public static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) + " s";
}
