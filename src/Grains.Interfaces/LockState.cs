namespace CycleLock;

/// <summary>The stored state of a lock.</summary>
public enum LockState
{
    /// <summary>No lease.</summary>
    Free = 0,

    /// <summary>A lease is (or was, until it expires) granted.</summary>
    Held = 1,

    /// <summary>Too many stalls: refused until an operator resets it.</summary>
    Dead = 2,
}
