namespace CycleLock.Chaos.Checking;

/// <summary>The independent evidence of one chaos run, handed to <see cref="ChaosChecker"/>. All times are UTC.</summary>
/// <param name="Grants">One record per granted epoch, from history.</param>
/// <param name="Writes">The protected table's rows.</param>
/// <param name="Samples">Every worker's clock samples.</param>
/// <param name="Beliefs">Every worker's belief intervals (worker clock).</param>
/// <param name="Faults">The injected faults (database clock).</param>
/// <param name="Losses">Leases lost by live holders.</param>
/// <param name="Bite">Counters proving the faults bit.</param>
/// <param name="RequiredFaultKinds">Fault kinds the run must have exercised within budget.</param>
/// <param name="ClockTolerance">Added to every clock conversion's uncertainty (sampling jitter, timestamp resolution).</param>
public sealed record CheckInput(
    IReadOnlyList<GrantRecord> Grants,
    IReadOnlyList<ProtectedWrite> Writes,
    IReadOnlyList<ClockSample> Samples,
    IReadOnlyList<BeliefInterval> Beliefs,
    IReadOnlyList<FaultRecord> Faults,
    IReadOnlyList<LossRecord> Losses,
    BiteEvidence Bite,
    IReadOnlyCollection<string> RequiredFaultKinds,
    TimeSpan ClockTolerance);
