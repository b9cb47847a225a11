namespace CycleLock.Leasing;

/// <summary>What a recorded end of a lease means to its holder: the end texts the store returns are the
/// release reasons (<see cref="ReleaseReasons.ToText"/>) and the ends no holder chose (<c>expired</c>,
/// <c>force-released</c>). Release reasons are matched as <see cref="ReleaseReason"/> values in an exhaustive
/// switch, so a reason added to the enum does not build until it is classified here (it used to fall through
/// to "lost" as an unmatched string).</summary>
internal static class EndReasons
{
    /// <summary><see cref="KeepAliveStatus.Released"/> for an end the holder's side chose; <see cref="KeepAliveStatus.Lost"/>
    /// for a loss, an expiry, a force-release, and (the safe side) for no or an unknown text.</summary>
    public static KeepAliveStatus StatusOf(string? text)
    {
        if (text is not null && ReleaseReasons.TryParse(text, out var reason))
        {
            // No default arm: a ReleaseReason member missing here is CS8509, an error in this build. (CS8524 is about
            // unnamed values, which TryParse never returns.)
#pragma warning disable CS8524
            return reason switch
            {
                ReleaseReason.Completed or ReleaseReason.Failed or ReleaseReason.Stalled or ReleaseReason.Shutdown or ReleaseReason.Abandoned => KeepAliveStatus.Released,
                ReleaseReason.LeaseLost => KeepAliveStatus.Lost,
            };
#pragma warning restore CS8524
        }

        return KeepAliveStatus.Lost; // expired, force-released, or a text this build does not know: the holder must stop
    }
}
