namespace CycleLock;

/// <summary>How a lease ended, as seen by a scheduler. None of these burned an attempt.</summary>
public enum LockEventKind
{
    /// <summary>The holder stopped sending keep-alives; the grain released it as <c>stalled</c> (counts a stall).</summary>
    Stalled = 0,

    /// <summary>The lease was lost (renewals could not keep it, or the holder released it as <c>lease-lost</c>).</summary>
    Lost = 1,

    /// <summary>The lease ran out and was taken over (the silo serving it died with it).</summary>
    Expired = 2,

    /// <summary>An operator force-released it.</summary>
    ForceReleased = 3,
}
