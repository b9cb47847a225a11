namespace CycleLock.Client;

/// <summary>Where a lock handle is. Moves only forward: Held ⇄ InJeopardy → Lost or Released (both terminal).</summary>
public enum LockHandleState
{
    /// <summary>Keep-alives succeed and the grain's renewals are healthy.</summary>
    Held = 0,

    /// <summary>Keep-alives fail or the grain reports failing renewals. Still the holder until <see cref="LockHandle.ValidUntil"/>.</summary>
    InJeopardy = 1,

    /// <summary>Ownership ended without this handle releasing it (valid-until passed, re-granted,
    /// force-released, released as stalled). Terminal.</summary>
    Lost = 2,

    /// <summary>This handle released the lock (<see cref="LockHandle.ReleaseAsync"/> or dispose). Terminal.</summary>
    Released = 3,
}
