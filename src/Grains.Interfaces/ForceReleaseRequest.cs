namespace CycleLock;

/// <summary>An operator ends the lease of <paramref name="ExpectedEpoch"/>.</summary>
/// <param name="ExpectedEpoch">The epoch the operator saw; nothing changes when it is not current.</param>
/// <param name="Reason">Free text for history (at most 500 characters).</param>
/// <param name="By">Who asked (at most 200 characters).</param>
/// <param name="SkipDelay">Grant again without waiting for the old holder's promises to run out
/// (history records it); only for a holder known to be dead.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.ForceReleaseRequest")]
public sealed record ForceReleaseRequest(
    [property: Id(0)] long ExpectedEpoch,
    [property: Id(1)] string Reason,
    [property: Id(2)] string By,
    [property: Id(3)] bool SkipDelay);
