using static System.FormattableString;

namespace CycleLock.Chaos.Checking;

/// <summary>Rules 6 to 8: losses, fault budgets and bite evidence.</summary>
public sealed partial class ChaosChecker
{
    /// <summary>Rule 6; returns the losses by cause.</summary>
    private SortedDictionary<string, int> CheckLosses(CheckInput input, GrantIndex grants, List<Violation> violations)
    {
        var byCause = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var losses = input.Losses
            .OrderBy(l => l.Lock, StringComparer.Ordinal).ThenBy(l => l.AtDbUtc).ThenBy(l => l.Epoch).ThenBy(l => l.Worker);
        foreach (var loss in losses)
        {
            byCause[loss.Cause] = byCause.GetValueOrDefault(loss.Cause) + 1;

            var windowStart = loss.AtDbUtc - LossWindow;
            var nearby = input.Faults
                .Where(f => f.StartDbUtc <= loss.AtDbUtc && f.EndDbUtc >= windowStart)
                .OrderBy(f => f.StartDbUtc).ThenBy(f => f.Kind, StringComparer.Ordinal)
                .ToList();
            var target = Invariant($"worker-{loss.Worker}");
            var grantedAt = grants.Of(loss.Lock).FirstOrDefault(g => g.Epoch == loss.Epoch)?.GrantCommittedAt;
            var excused = nearby.Any(f =>
                // A fault aimed at the worker excuses only a lease it held during the fault (granted before
                // the fault ended); a database or silo fault excuses any loss when it outlasted its budget.
                (string.Equals(f.Target, target, StringComparison.Ordinal) && (grantedAt is null || grantedAt <= f.EndDbUtc))
                || (!f.ExpectsLoss && f.Duration > f.Budget));
            if (!excused)
            {
                var faults = nearby.Count == 0
                    ? "none"
                    : string.Join(", ", nearby.Select(f => $"{f.Kind}{(f.Target is null ? "" : " on " + f.Target)} {Text.Seconds(f.Duration)} ≤ budget {Text.Seconds(f.Budget)}"));
                violations.Add(new(ViolationKind.LeaseLostWithinBudget, loss.Lock, Invariant(
                    $"worker {loss.Worker} lost epoch {loss.Epoch} (holder {loss.Holder}, cause {loss.Cause}) at {Text.At(loss.AtDbUtc)} while alive; faults in the preceding {Text.Seconds(LossWindow)}: {faults}")));
            }
        }

        return byCause;
    }

    /// <summary>Rule 7; returns the faults by kind (every required kind included, even with no fault).</summary>
    private static SortedDictionary<string, FaultKindSummary> CheckFaultKinds(CheckInput input, List<Violation> violations)
    {
        var byKind = new SortedDictionary<string, FaultKindSummary>(StringComparer.Ordinal);
        foreach (var kind in input.Faults.GroupBy(f => f.Kind, StringComparer.Ordinal))
        {
            byKind[kind.Key] = new FaultKindSummary(kind.Count(), kind.Count(f => f.InBudget));
        }

        foreach (var required in input.RequiredFaultKinds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var summary = byKind.GetValueOrDefault(required) ?? new FaultKindSummary(0, 0);
            byKind[required] = summary;
            if (summary.InBudget == 0)
            {
                var shortest = input.Faults.Where(f => string.Equals(f.Kind, required, StringComparison.Ordinal)).MinBy(f => f.Duration);
                var seen = shortest is null
                    ? "none was injected"
                    : Invariant($"{summary.Count} injected, the shortest {Text.Seconds(shortest.Duration)} > budget {Text.Seconds(shortest.Budget)}");
                violations.Add(new(ViolationKind.FaultKindNotExercisedInBudget, "", $"required fault kind {required} never ran within its budget: {seen}"));
            }
        }

        return byKind;
    }

    /// <summary>Rule 8: one violation per zero counter.</summary>
    private static void CheckBite(BiteEvidence bite, List<Violation> violations)
    {
        (int Count, string Missing)[] counters =
        [
            (bite.StaleWritesRejected, "no stale write was rejected by the guard"),
            (bite.TakeoversAfterStop, "no takeover after a SIGSTOP"),
            (bite.MovedAnswers, "no moved answer"),
            (bite.RenewalReconnects, "no renewal needed a reconnect"),
        ];
        foreach (var (_, missing) in counters.Where(c => c.Count <= 0))
        {
            violations.Add(new(ViolationKind.FaultsDidNotBite, "", missing));
        }

        foreach (var unbitten in bite.Unbitten ?? [])
        {
            violations.Add(new(ViolationKind.FaultsDidNotBite, "", unbitten));
        }
    }
}
