namespace CycleLock;

/// <summary>
/// The operator plane of one lock (the same activation as <see cref="ICycleLockGrain"/>, keyed by the lock's
/// name): the calls that override a holder. A silo with credentials configured (<c>CycleLock:Access</c>)
/// answers them only to a caller presenting an operator credential; a worker credential gets
/// <see cref="CycleLockAccessDeniedException"/> and nothing changes. History records the authenticated
/// operator next to the self-declared <c>by</c>.
/// </summary>
[Alias("CycleLock.ILockOperatorGrain")]
public interface ILockOperatorGrain : IGrainWithStringKey
{
    /// <summary>Ends the lease of <see cref="ForceReleaseRequest.ExpectedEpoch"/>. <see cref="ForceReleaseRequest.SkipDelay"/>
    /// is refused unless the silo sets <c>CycleLock:Locks:AllowSkipDelay</c>.</summary>
    [Alias("ForceRelease")]
    Task<ForceReleaseReply> ForceReleaseAsync(ForceReleaseRequest request, CancellationToken cancellationToken = default);

    /// <summary>Returns a dead lock (too many stalls) to service.</summary>
    [Alias("Reset")]
    Task<ResetReply> ResetAsync(string by, CancellationToken cancellationToken = default);
}
