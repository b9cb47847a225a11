namespace CycleLock.Leasing;

/// <summary>What the lease core asks of the grain's timer after a turn.</summary>
/// <param name="Due">When the next tick should run; null to dispose the timer.</param>
/// <param name="Deactivate">The activation should deactivate (it answered "moved").</param>
public readonly record struct TimerRequest(TimeSpan? Due, bool Deactivate);
