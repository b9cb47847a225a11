namespace CycleLock;

/// <summary>Reply to an acquire.</summary>
/// <param name="Status">The outcome.</param>
/// <param name="Epoch">Granted: the lease's fencing epoch. Busy: the current holder's epoch.</param>
/// <param name="ValidFor">Granted: how long the caller may act as holder, measured from when it sent the request.</param>
/// <param name="Ttl">The lease length.</param>
/// <param name="HolderLabel">Busy: the current holder's label.</param>
/// <param name="TimeLeft">Busy: time until the lock could next be granted.</param>
/// <param name="BusyReason">Busy: why.</param>
/// <param name="Attempts">Failed runs counted since the last completed one.</param>
/// <param name="Stalls">Stalls counted since the last completed run.</param>
/// <param name="HolderTimeout">Granted: the holder timeout ht the silo applies to this lease (the SDK paces keep-alives from
/// it); zero from a silo that predates it.</param>
/// <param name="SdkMargin">Granted: the margin m_w the SDK subtracts from every promise of this lease; zero from a silo that
/// predates it.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.AcquireReply")]
public sealed record AcquireReply(
    [property: Id(0)] AcquireStatus Status,
    [property: Id(1)] long Epoch,
    [property: Id(2)] TimeSpan ValidFor,
    [property: Id(3)] TimeSpan Ttl,
    [property: Id(4)] string? HolderLabel,
    [property: Id(5)] TimeSpan TimeLeft,
    [property: Id(6)] BusyReason BusyReason,
    [property: Id(7)] int Attempts,
    [property: Id(8)] int Stalls,
    [property: Id(9)] TimeSpan HolderTimeout = default,
    [property: Id(10)] TimeSpan SdkMargin = default);
