namespace CycleLock;

/// <summary>Reply to an abandon.</summary>
/// <param name="ReleasedGrant">True when a grant to the abandoned holder id existed and was released.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.AbandonReply")]
public sealed record AbandonReply([property: Id(0)] bool ReleasedGrant);
