namespace CycleLock.Chaos.Checking;

/// <summary>The grants of a run by lock, each lock's in epoch order (then commit time, then holder).</summary>
internal sealed class GrantIndex
{
    private readonly Dictionary<string, GrantRecord[]> _byLock;
    private readonly HashSet<(string Lock, long Epoch, Guid Holder)> _keys;

    public GrantIndex(IEnumerable<GrantRecord> grants)
    {
        _byLock = grants
            .GroupBy(g => g.Lock, StringComparer.Ordinal)
            .ToDictionary(
                g => g.Key,
                g => g.OrderBy(x => x.Epoch).ThenBy(x => x.GrantCommittedAt).ThenBy(x => x.Holder).ToArray(),
                StringComparer.Ordinal);
        _keys = [.. _byLock.Values.SelectMany(g => g).Select(g => (g.Lock, g.Epoch, g.Holder))];
    }

    /// <summary>The locks, in ordinal order.</summary>
    public IEnumerable<string> Locks => _byLock.Keys.Order(StringComparer.Ordinal);

    /// <summary>The grants of <paramref name="lockName"/> in epoch order.</summary>
    public IReadOnlyList<GrantRecord> Of(string lockName) => _byLock.TryGetValue(lockName, out var grants) ? grants : [];

    /// <summary>Whether (lock, epoch, holder) was granted.</summary>
    public bool Has(string lockName, long epoch, Guid holder) => _keys.Contains((lockName, epoch, holder));

    /// <summary>The grants of one epoch (more than one only when an epoch was duplicated).</summary>
    public IEnumerable<GrantRecord> WithEpoch(string lockName, long epoch) => Of(lockName).Where(g => g.Epoch == epoch);

    /// <summary>The earliest-committed grant of the smallest epoch above <paramref name="epoch"/>, if any.</summary>
    public GrantRecord? Next(string lockName, long epoch)
    {
        var grants = Of(lockName);
        int low = 0, high = grants.Count;
        while (low < high)
        {
            var mid = (low + high) / 2;
            if (grants[mid].Epoch <= epoch)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low < grants.Count ? grants[low] : null;
    }
}
