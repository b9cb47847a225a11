namespace CycleLock.Chaos.Checking;

/// <summary>
/// The time a worker believed it held a lease: from receiving the grant to the earlier of the handle's
/// <c>ValidUntil</c> and its release, on the worker's clock.
/// </summary>
/// <param name="Worker">The worker number.</param>
/// <param name="Lock">The lock name.</param>
/// <param name="Epoch">The epoch of the handle.</param>
/// <param name="Holder">The holder id of the handle.</param>
/// <param name="StartWorkerUtc">When the grant was received (worker clock).</param>
/// <param name="EndWorkerUtc">When the belief ended (worker clock).</param>
public sealed record BeliefInterval(
    int Worker,
    string Lock,
    long Epoch,
    Guid Holder,
    DateTimeOffset StartWorkerUtc,
    DateTimeOffset EndWorkerUtc);
