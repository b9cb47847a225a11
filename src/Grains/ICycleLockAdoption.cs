namespace CycleLock;

/// <summary>
/// The call a lock grain makes to itself, off the contract workers compile against (STYLE 16): the
/// serialized adoption a keep-alive awaits when this activation does not serve the holder's lease yet.
/// Workers send <see cref="ICycleLockGrain.KeepAliveAsync"/>; only that, the holder's release and its
/// idempotent re-acquire ever adopt.
/// </summary>
[Alias("CycleLock.ICycleLockAdoption")]
public interface ICycleLockAdoption : IGrainWithStringKey
{
    /// <summary>Adopts the holder's lease (serialized with renewals and releases) and answers the keep-alive.</summary>
    [Alias("Adopt")]
    Task<KeepAliveReply> AdoptAsync(KeepAliveRequest request, CancellationToken cancellationToken = default);
}
