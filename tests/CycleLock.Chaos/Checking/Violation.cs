namespace CycleLock.Chaos.Checking;

/// <summary>One broken rule.</summary>
/// <param name="Kind">The rule.</param>
/// <param name="Lock">The lock involved; empty for run-wide violations (fault kinds, bite counters).</param>
/// <param name="Detail">The epochs, holders, workers and times involved.</param>
public sealed record Violation(ViolationKind Kind, string Lock, string Detail);
