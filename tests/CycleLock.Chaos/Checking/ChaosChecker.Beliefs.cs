using static System.FormattableString;

namespace CycleLock.Chaos.Checking;

/// <summary>Rules 1 and 2: what workers believed, mapped to the database clock.</summary>
public sealed partial class ChaosChecker
{
    /// <summary>Checks every belief; returns the number of (belief, other grant) overlaps possible only within the uncertainty.</summary>
    private static int CheckBeliefs(CheckInput input, GrantIndex grants, List<Violation> violations)
    {
        var clocks = input.Samples
            .GroupBy(s => s.Worker)
            .ToDictionary(g => g.Key, g => new WorkerClock(g, input.ClockTolerance));
        var beliefs = input.Beliefs
            .OrderBy(b => b.Lock, StringComparer.Ordinal).ThenBy(b => b.Epoch).ThenBy(b => b.Worker).ThenBy(b => b.StartWorkerUtc)
            .ToList();
        var uncertain = 0;

        foreach (var belief in beliefs.Where(b => !grants.Has(b.Lock, b.Epoch, b.Holder)))
        {
            violations.Add(new(ViolationKind.BeliefWithoutGrant, belief.Lock, Invariant(
                $"worker {belief.Worker} believed it held epoch {belief.Epoch} (holder {belief.Holder}) from {Text.At(belief.StartWorkerUtc)} to {Text.At(belief.EndWorkerUtc)} (worker clock), but no grant of that epoch to that holder is recorded")));
        }

        // One violation per (lock, worker) without samples rather than one per belief: the cause is the missing sampling.
        foreach (var unsampled in beliefs.Where(b => !clocks.ContainsKey(b.Worker)).GroupBy(b => (b.Lock, b.Worker)))
        {
            var epochs = string.Join(", ", unsampled.Select(b => b.Epoch).Distinct());
            violations.Add(new(ViolationKind.NoClockEvidence, unsampled.Key.Lock, Invariant(
                $"worker {unsampled.Key.Worker} has no clock sample: its {unsampled.Count()} belief(s) of epoch(s) {epochs} cannot be placed on the database clock")));
        }

        foreach (var belief in beliefs.Where(b => clocks.ContainsKey(b.Worker)))
        {
            var clock = clocks[belief.Worker];
            var (start, startUncertainty) = clock.ToDb(belief.StartWorkerUtc);
            var (end, endUncertainty) = clock.ToDb(belief.EndWorkerUtc);
            foreach (var other in grants.Of(belief.Lock).Where(g => g.Epoch != belief.Epoch))
            {
                var otherEnd = other.EndCommittedAt ?? DateTimeOffset.MaxValue;
                if (end - endUncertainty > other.GrantCommittedAt && start + startUncertainty < otherEnd)
                {
                    violations.Add(new(ViolationKind.BeliefOverlapsOtherGrant, belief.Lock, Invariant(
                        $"worker {belief.Worker} believed it held epoch {belief.Epoch} (holder {belief.Holder}) from {Text.At(start)} ±{Text.Seconds(startUncertainty)} to {Text.At(end)} ±{Text.Seconds(endUncertainty)} (database clock), but epoch {other.Epoch} (holder {other.Holder}) was held from {Text.At(other.GrantCommittedAt)} to {Text.At(other.EndCommittedAt)}")));
                }
                else if (end + endUncertainty > other.GrantCommittedAt && start - startUncertainty < otherEnd)
                {
                    uncertain++;
                }
            }
        }

        return uncertain;
    }
}
