using Orleans.Concurrency;

namespace CycleLock;

/// <summary>
/// One job lock ("cycle lock"), keyed by its NFC-normalised name (see <see cref="LockName"/>).
/// The grain keeps the lease row in PostgreSQL alive with a grain timer while the holder keeps
/// sending keep-alives; it never answers "held" beyond what the database lease covers. Every method takes
/// the caller's <see cref="CancellationToken"/> (Orleans carries it to the grain): a caller that gives up
/// cancels the call instead of abandoning it. The calls that override a holder (force-release, reset) are on
/// <see cref="ILockOperatorGrain"/>, the same activation.
/// </summary>
[Alias("CycleLock.ICycleLockGrain")]
public interface ICycleLockGrain : IGrainWithStringKey
{
    /// <summary>Acquires the lock without waiting. A repeated call with the same holder id and key
    /// while the lease is held returns the same lease (idempotent). Bad input throws
    /// <see cref="ArgumentException"/> naming the value and the rule.</summary>
    [Alias("TryAcquire")]
    Task<AcquireReply> TryAcquireAsync(AcquireRequest request, CancellationToken cancellationToken = default);

    /// <summary>The holder's keep-alive. Always interleaves and is answered from memory when this
    /// activation serves the lease; otherwise the activation first adopts the lease.</summary>
    [AlwaysInterleave]
    [Alias("KeepAlive")]
    ValueTask<KeepAliveReply> KeepAliveAsync(KeepAliveRequest request, CancellationToken cancellationToken = default);

    /// <summary>What is known of the lock. Never adopts and never starts the renewal timer.</summary>
    [AlwaysInterleave]
    [Alias("Inspect")]
    Task<LockInfo> InspectAsync(CancellationToken cancellationToken = default);

    /// <summary>The holder releases its lease with a reason.</summary>
    [Alias("Release")]
    Task<ReleaseReply> ReleaseAsync(ReleaseRequest request, CancellationToken cancellationToken = default);

    /// <summary>The SDK gave up waiting for an acquire reply: the holder id is spent and any grant to
    /// it is released, even when this call overtakes the acquire.</summary>
    [Alias("Abandon")]
    Task<AbandonReply> AbandonAsync(AbandonRequest request, CancellationToken cancellationToken = default);

    /// <summary>Registers (or re-registers) a waiter. Never touches the database, never adopts and never
    /// starts the renewal timer; the offer comes one-way to <see cref="WaitRequest.Waiter"/> in arrival
    /// order when the lock is free. Bad input throws <see cref="ArgumentException"/>.</summary>
    [AlwaysInterleave]
    [Alias("Wait")]
    Task<WaitReply> WaitAsync(WaitRequest request, CancellationToken cancellationToken = default);

    /// <summary>A waiter gives up: it is forgotten (and its offer, if any, passes to the next). True when it was registered.</summary>
    [AlwaysInterleave]
    [Alias("Leave")]
    Task<bool> LeaveAsync(Guid waiterId, CancellationToken cancellationToken = default);

    /// <summary>The lock's history, newest first, at most <paramref name="limit"/> entries with an id
    /// below <paramref name="beforeId"/> when given.</summary>
    [AlwaysInterleave]
    [Alias("History")]
    Task<LockHistoryEntry[]> GetHistoryAsync(int limit, long? beforeId, CancellationToken cancellationToken = default);
}
