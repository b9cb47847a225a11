namespace CycleLock;

/// <summary>A waiter's registration (and re-registration). Waiting is itself a lease: it lapses one
/// holder timeout (TTL/2) after the last registration unless renewed.</summary>
/// <param name="WaiterId">Fresh GUID per waiting acquire; never <see cref="Guid.Empty"/>.</param>
/// <param name="HolderLabel">Display only (at most 200 characters, no control characters).</param>
/// <param name="Ttl">The TTL the waiter will acquire with (checked against the silo's floor now).</param>
/// <param name="Waiter">Where offers go (an object reference made with <c>CreateObjectReference</c>).</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.WaitRequest")]
public sealed record WaitRequest(
    [property: Id(0)] Guid WaiterId,
    [property: Id(1)] string HolderLabel,
    [property: Id(2)] TimeSpan Ttl,
    [property: Id(3)] ILockWaiter Waiter);
