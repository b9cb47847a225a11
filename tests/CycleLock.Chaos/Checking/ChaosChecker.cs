using static System.FormattableString;

namespace CycleLock.Chaos.Checking;

/// <summary>
/// Proves from a chaos run's independent evidence that no two owners of a lock ever overlapped (DESIGN §8, §9),
/// that every required fault ran within budget without costing a live holder its lease, and that the faults bit.
/// Pure and deterministic: the same evidence in any order gives the same report.
/// </summary>
public sealed partial class ChaosChecker
{
    /// <summary>The default <see cref="LossWindow"/>: 60 s.</summary>
    public static readonly TimeSpan DefaultLossWindow = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long before a loss a fault may have ended and still excuse it (rule 6). Default <see cref="DefaultLossWindow"/>;
    /// must not be negative.
    /// </summary>
    public TimeSpan LossWindow { get; init; } = DefaultLossWindow;

    /// <summary>Checks one run; violations are ordered by lock (run-wide ones first), then kind, then discovery.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The clock tolerance or the loss window is negative.</exception>
    public CheckReport Check(CheckInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfLessThan(input.ClockTolerance, TimeSpan.Zero, nameof(input.ClockTolerance));
        ArgumentOutOfRangeException.ThrowIfLessThan(LossWindow, TimeSpan.Zero, nameof(LossWindow));

        var grants = new GrantIndex(input.Grants);
        var violations = new List<Violation>();
        CheckGrants(grants, violations);
        var uncertain = CheckBeliefs(input, grants, violations);
        CheckWrites(input.Writes, grants, violations);
        var losses = CheckLosses(input, grants, violations);
        var faults = CheckFaultKinds(input, violations);
        CheckBite(input.Bite, violations);

        return new CheckReport(
            input.Grants.Count,
            faults,
            losses,
            [.. violations.OrderBy(v => v.Lock, StringComparer.Ordinal).ThenBy(v => v.Kind)],
            uncertain,
            input.Bite);
    }

    /// <summary>Rule 9: one holder per epoch; each grant commits after the previous epoch's end.</summary>
    private static void CheckGrants(GrantIndex grants, List<Violation> violations)
    {
        foreach (var lockName in grants.Locks)
        {
            var epochs = grants.Of(lockName).GroupBy(g => g.Epoch).ToList();
            foreach (var epoch in epochs.Where(e => e.Select(g => g.Holder).Distinct().Count() > 1))
            {
                var holders = string.Join(", ", epoch.Select(g => g.Holder).Distinct());
                violations.Add(new(ViolationKind.DuplicateEpoch, lockName, Invariant($"epoch {epoch.Key} was granted to several holders: {holders}")));
            }

            // A duplicated epoch is reported above; the order check uses each epoch's first grant.
            for (var i = 1; i < epochs.Count; i++)
            {
                var previous = epochs[i - 1].First();
                var current = epochs[i].First();
                if (!EndsBefore(previous, current.GrantCommittedAt))
                {
                    violations.Add(new(ViolationKind.GrantsOverlap, lockName, Invariant(
                        $"epoch {current.Epoch} (holder {current.Holder}) was granted at {Text.At(current.GrantCommittedAt)} while epoch {previous.Epoch} (holder {previous.Holder}) was held: it ended {Text.At(previous.EndCommittedAt)} ({previous.EndKind ?? "no end event"})")));
                }
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="grant"/> ended before <paramref name="at"/>. An expired end event is written by the takeover
    /// in the takeover's own transaction, so it carries the same commit timestamp as the next grant: equal is not overlap.
    /// </summary>
    private static bool EndsBefore(GrantRecord grant, DateTimeOffset at) =>
        grant.EndCommittedAt is { } end
        && (end < at || (end == at && string.Equals(grant.EndKind, GrantRecord.Expired, StringComparison.Ordinal)));
}
