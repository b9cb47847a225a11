namespace CycleLock.Chaos.Checking;

/// <summary>How often one fault kind was injected, and how many of those stayed within budget.</summary>
/// <param name="Count">Faults of the kind.</param>
/// <param name="InBudget">Faults of the kind that lasted at most their budget (or expected a loss).</param>
public sealed record FaultKindSummary(int Count, int InBudget);
