namespace CycleLock;

/// <summary>Outcome of a keep-alive.</summary>
public enum KeepAliveStatus
{
    /// <summary>Still held: valid for <see cref="KeepAliveReply.ValidFor"/> from the send time.</summary>
    Held = 0,

    /// <summary>Definitely lost (re-granted, force-released, expired or never ours). Terminal.</summary>
    Lost = 1,

    /// <summary>The lease has ended by release (including a stall release). Terminal.</summary>
    Released = 2,

    /// <summary>Another activation serves this lease: retry shortly, it is not lost.</summary>
    Moved = 3,

    /// <summary>This activation cannot vouch for the lease now (its deadline passed without a renewal, or it
    /// is ending the lease by stall or force-release and the database has not answered): no new validity,
    /// not a loss — the lease may be served elsewhere. Keep sending keep-alives until ValidUntil.</summary>
    Uncertain = 4,
}
