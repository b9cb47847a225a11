namespace CycleLock;

/// <summary>What a <see cref="LockOffer"/> says.</summary>
public enum LockOfferKind
{
    /// <summary>Acquire now (with <see cref="AcquireRequest.WaiterId"/> set): the lock is reserved for you.</summary>
    Offer = 0,

    /// <summary>The lock is dead (too many stalls) until an operator resets it; waiting ends.</summary>
    Dead = 1,
}
