namespace CycleLock.Persistence;

/// <summary>What a lease-store operation did. Expected outcomes are values, never exceptions.</summary>
public enum StoreOutcome
{
    /// <summary>acquire: a new grant.</summary>
    Granted,

    /// <summary>acquire: the same holder and key asked again; the same lease, now served by the caller's activation.</summary>
    Reacquired,

    /// <summary>acquire: another holder's lease is unexpired.</summary>
    BusyHeld,

    /// <summary>acquire: free, but fenced until <see cref="StoreResult.FenceUntil"/>.</summary>
    BusyFenced,

    /// <summary>acquire: the row lock was not had within the grant lock timeout (a fenced write in flight).</summary>
    BusyGuard,

    /// <summary>Not granted: the silo's database work is at its bound and the statement was not sent; retry after the time left.</summary>
    BusyOverloaded,

    /// <summary>acquire: the lock is dead until reset.</summary>
    Dead,

    /// <summary>acquire: the holder id is spent.</summary>
    Spent,

    /// <summary>acquire: the same holder re-acquired with a different TTL.</summary>
    TtlMismatch,

    /// <summary>renew: extended.</summary>
    Renewed,

    /// <summary>adopt: this activation now serves the lease.</summary>
    Adopted,

    /// <summary>renew or release: the same holder and epoch are served by another activation.</summary>
    Moved,

    /// <summary>adopt, renew or release: the lease is not the caller's (row gone, re-granted, expired, force-released).</summary>
    Lost,

    /// <summary>adopt or renew: the caller's epoch ended by release; <see cref="StoreResult.Reason"/> says how.</summary>
    Ended,

    /// <summary>release: this call ended the lease.</summary>
    Released,

    /// <summary>release or force-release: the epoch had already ended; <see cref="StoreResult.Reason"/> is the recorded reason.</summary>
    AlreadyReleased,

    /// <summary>force-release: done; the epoch was bumped.</summary>
    ForceReleased,

    /// <summary>force-release: the lock's epoch is not the expected one.</summary>
    WrongEpoch,

    /// <summary>force-release: the expected epoch is current but not held.</summary>
    NotHeld,

    /// <summary>force-release: the row lock was not had in time (a fenced write in flight).</summary>
    ForceBusy,

    /// <summary>abandon: a grant to the abandoned holder was released.</summary>
    Abandoned,

    /// <summary>abandon: there was no grant to release (the id is spent all the same); reset: the lock was not dead.</summary>
    Nothing,

    /// <summary>reset: the dead lock is free again.</summary>
    Reset,

    /// <summary>A coalesced change the batch could not apply without waiting for a row lock another transaction holds
    /// (an epoch guard, a force-release); its caller sends it down the single-row path. Never reaches a grain.</summary>
    Skipped,
}
