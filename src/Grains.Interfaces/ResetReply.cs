namespace CycleLock;

/// <summary>Reply to a reset of a dead lock.</summary>
/// <param name="WasDead">True when the lock was dead and is now free with its counters cleared.</param>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.ResetReply")]
public sealed record ResetReply([property: Id(0)] bool WasDead);
