namespace CycleLock.Leasing;

/// <summary>Which ending is in flight while an activation is in <see cref="LeasePhase.Ending"/>.</summary>
internal enum EndingKind
{
    /// <summary>The holder's own release (final for the holder as soon as it asks).</summary>
    HolderRelease = 0,

    /// <summary>The grain's stall release (retried on the timer until the database answers).</summary>
    Stall = 1,

    /// <summary>An operator's force-release of the served epoch (retried on the timer while in doubt).</summary>
    Force = 2,
}
