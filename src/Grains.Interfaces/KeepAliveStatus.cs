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
}
