namespace CycleLock;

/// <summary>Text forms of <see cref="ReleaseReason"/> as stored in the database.</summary>
public static class ReleaseReasons
{
    /// <summary>The stored text of a reason, e.g. <c>lease-lost</c>.</summary>
    public static string ToText(this ReleaseReason reason) => reason switch
    {
        ReleaseReason.Completed => "completed",
        ReleaseReason.Failed => "failed",
        ReleaseReason.Stalled => "stalled",
        ReleaseReason.LeaseLost => "lease-lost",
        ReleaseReason.Shutdown => "shutdown",
        ReleaseReason.Abandoned => "abandoned",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "Release reason must be one of the defined ReleaseReason values."),
    };

    /// <summary>Parses a stored reason text; unknown text is an <see cref="ArgumentException"/>.</summary>
    public static ReleaseReason Parse(string text) => TryParse(text, out var reason)
        ? reason
        : throw new ArgumentException($"Release reason '{text}' is not one of completed, failed, stalled, lease-lost, shutdown, abandoned.", nameof(text));

    /// <summary>Parses a stored reason text; false for any other text (an end no holder chose, such as <c>expired</c>).</summary>
    public static bool TryParse(string? text, out ReleaseReason reason)
    {
        foreach (var candidate in Enum.GetValues<ReleaseReason>())
        {
            if (candidate.ToText() == text)
            {
                reason = candidate;
                return true;
            }
        }

        reason = default;
        return false;
    }
}
