namespace CycleLock.Chaos.Checking;

/// <summary>Counters proving the faults reached the code paths they were meant to exercise; each must be at least one.</summary>
/// <param name="StaleWritesRejected">Protected writes the epoch guard refused.</param>
/// <param name="TakeoversAfterStop">Locks taken over from a SIGSTOPped holder.</param>
/// <param name="MovedAnswers">"moved" answers the SDK received.</param>
/// <param name="RenewalReconnects">Renewals that needed a reconnect.</param>
/// <param name="Unbitten">Faults the harness found did nothing they were meant to (a stop that did not land
/// at its pause point, a blackholed worker that lost nothing, a database fault no hold spanned, ...); each
/// is a violation.</param>
public sealed record BiteEvidence(int StaleWritesRejected, int TakeoversAfterStop, int MovedAnswers, int RenewalReconnects, IReadOnlyList<string>? Unbitten = null);
