namespace CycleLock.Persistence;

/// <summary>What a coalesced ownership change does (<c>cyclelock.change_many</c>, migration 0010).</summary>
public enum ChangeKind
{
    /// <summary><see cref="ILeaseStore.AcquireAsync"/>.</summary>
    Acquire,

    /// <summary><see cref="ILeaseStore.ReleaseAsync"/>.</summary>
    Release,

    /// <summary><see cref="ILeaseStore.AbandonAsync"/>.</summary>
    Abandon,
}

/// <summary>One acquire, release or abandon in a coalesced batch: the arguments of the single-row operation
/// (the ones a kind does not use keep their defaults).</summary>
public sealed record ChangeInput(
    ChangeKind Kind,
    string Name,
    Guid HolderId,
    LeaseKey Key,
    string? Label = null,
    TimeSpan Ttl = default,
    string? Activation = null,
    long Epoch = 0,
    ReleaseReason Reason = ReleaseReason.Completed,
    bool ByHolder = false,
    int MaxStalls = 0)
{
    /// <summary>The arguments of <see cref="ILeaseStore.AcquireAsync"/>.</summary>
    public static ChangeInput Acquire(string name, Guid holderId, string label, LeaseKey key, TimeSpan ttl, string activation) =>
        new(ChangeKind.Acquire, name, holderId, key, label, ttl, activation);

    /// <summary>The arguments of <see cref="ILeaseStore.ReleaseAsync"/>.</summary>
    public static ChangeInput Release(string name, Guid holderId, LeaseKey key, long epoch, string activation, ReleaseReason reason, bool byHolder, int maxStalls) =>
        new(ChangeKind.Release, name, holderId, key, Activation: activation, Epoch: epoch, Reason: reason, ByHolder: byHolder, MaxStalls: maxStalls);

    /// <summary>The arguments of <see cref="ILeaseStore.AbandonAsync"/>.</summary>
    public static ChangeInput Abandon(string name, Guid holderId, LeaseKey key) => new(ChangeKind.Abandon, name, holderId, key);
}
