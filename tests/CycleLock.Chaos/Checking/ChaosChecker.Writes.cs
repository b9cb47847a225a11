using static System.FormattableString;

namespace CycleLock.Chaos.Checking;

/// <summary>Rules 3 to 5: the protected table, written only through the epoch guard.</summary>
public sealed partial class ChaosChecker
{
    private static void CheckWrites(IReadOnlyList<ProtectedWrite> writes, GrantIndex grants, List<Violation> violations)
    {
        foreach (var perLock in writes.GroupBy(w => w.Lock, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var ordered = perLock.OrderBy(w => w.CommitOrder).ToList();
            for (var i = 1; i < ordered.Count; i++)
            {
                var (before, after) = (ordered[i - 1], ordered[i]);
                if (after.Epoch < before.Epoch)
                {
                    violations.Add(new(ViolationKind.EpochWentBackwards, perLock.Key, Invariant(
                        $"write {after.Sequence} of epoch {after.Epoch} (holder {after.Holder}, commit order {after.CommitOrder}, at {Text.At(after.CommittedAt)}) committed after write {before.Sequence} of epoch {before.Epoch} (holder {before.Holder}, commit order {before.CommitOrder}, at {Text.At(before.CommittedAt)})")));
                }
            }

            foreach (var write in ordered)
            {
                CheckWrite(write, grants, violations);
            }
        }
    }

    /// <summary>
    /// Rule 4 bounds a write of epoch e by the next grant and by e's force-release only: releases, losses and expiries
    /// do not wait for guards, so a write may commit after its own epoch's release. Rule 5: the write matches a grant.
    /// </summary>
    private static void CheckWrite(ProtectedWrite write, GrantIndex grants, List<Violation> violations)
    {
        var what = Invariant($"write {write.Sequence} of epoch {write.Epoch} (holder {write.Holder}) committed at {Text.At(write.CommittedAt)}");
        if (!grants.Has(write.Lock, write.Epoch, write.Holder))
        {
            var others = string.Join(", ", grants.WithEpoch(write.Lock, write.Epoch).Select(g => g.Holder));
            var granted = others.Length > 0 ? $"epoch {write.Epoch} was granted to {others}" : $"epoch {write.Epoch} was never granted";
            violations.Add(new(ViolationKind.WriteWithoutGrant, write.Lock, $"{what} matches no grant: {granted}"));
        }

        var bounds = new List<string>();
        foreach (var forced in grants.WithEpoch(write.Lock, write.Epoch)
            .Where(g => string.Equals(g.EndKind, GrantRecord.ForceReleased, StringComparison.Ordinal) && write.CommittedAt >= g.EndCommittedAt))
        {
            bounds.Add(Invariant($"the force-release of epoch {forced.Epoch} (holder {forced.Holder}) at {Text.At(forced.EndCommittedAt)}"));
        }

        if (grants.Next(write.Lock, write.Epoch) is { } next && write.CommittedAt >= next.GrantCommittedAt)
        {
            bounds.Add(Invariant($"the grant of epoch {next.Epoch} (holder {next.Holder}) at {Text.At(next.GrantCommittedAt)}"));
        }

        if (bounds.Count > 0)
        {
            violations.Add(new(ViolationKind.WriteAfterNextGrant, write.Lock, $"{what}, not before {string.Join(" nor ", bounds)}"));
        }
    }
}
