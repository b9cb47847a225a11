namespace CycleLock;

/// <summary>An acquire. <paramref name="HolderId"/> is fresh per acquire and single use; the SDK resends
/// the same id and key when a reply is lost, so a retry never causes a second grant.</summary>
/// <param name="HolderId">Fresh GUID per acquire; never <see cref="Guid.Empty"/>.</param>
/// <param name="HolderLabel">Display only (at most 200 characters, no control characters).</param>
/// <param name="Key">The secret for this lease; required by keep-alive, release, re-acquire and abandon.</param>
/// <param name="Ttl">Lease length, between the silo's floor and 24 h.</param>
/// <param name="WaiterId">Set by a waiter taking the lock it was offered (see <see cref="ICycleLockGrain.WaitAsync"/>);
/// <see cref="Guid.Empty"/> (the default) for an acquire that does not wait.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.AcquireRequest")]
public sealed record AcquireRequest(
    [property: Id(0)] Guid HolderId,
    [property: Id(1)] string HolderLabel,
    [property: Id(2)] LeaseKey Key,
    [property: Id(3)] TimeSpan Ttl,
    [property: Id(4)] Guid WaiterId = default);
