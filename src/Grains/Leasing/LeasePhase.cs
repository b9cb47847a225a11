namespace CycleLock.Leasing;

/// <summary>What an activation is doing with the lease it serves.</summary>
public enum LeasePhase
{
    /// <summary>Serves no lease.</summary>
    Idle = 0,

    /// <summary>Serves a held lease: renews it and answers keep-alives from memory.</summary>
    Held = 1,

    /// <summary>Ending the lease (holder release, stall release or force-release in flight or being retried):
    /// keep-alives get the ending answer, never a fresh promise.</summary>
    Ending = 2,

    /// <summary>Lost (deadline passed without a renewal): never "held" again for this epoch; the
    /// conditional <c>lease-lost</c> release is retried until the database answers.</summary>
    Lost = 3,

    /// <summary>Another activation serves the lease: answers "moved" and deactivates.</summary>
    Moved = 4,
}
