namespace CycleLock.Leasing;

/// <summary>
/// The leases this silo's activations serve, counted in total and per holder label, for the bounds one caller
/// cannot exceed (<see cref="CycleLockOptions.MaxLeasesPerHolderLabel"/>, <see cref="CycleLockOptions.MaxLeasesPerSilo"/>):
/// a worker that acquires without end is answered busy (<see cref="BusyReason.Limit"/>) before the database is asked.
/// One per silo (a singleton); counts are this silo's, not the cluster's.
/// </summary>
public sealed class HeldLeases
{
    private readonly Dictionary<string, int> _byLabel = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private int _total;

    /// <summary>Leases served by this silo.</summary>
    public int Total
    {
        get
        {
            lock (_gate)
            {
                return _total;
            }
        }
    }

    /// <summary>Leases served by this silo for holder label <paramref name="label"/>.</summary>
    public int Of(string? label)
    {
        lock (_gate)
        {
            return _byLabel.GetValueOrDefault(label ?? string.Empty);
        }
    }

    /// <summary>Why a new lease for <paramref name="label"/> would exceed a bound of <paramref name="options"/>, or null.</summary>
    public string? Refusal(string? label, CycleLockOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_gate)
        {
            if (_total >= options.MaxLeasesPerSilo)
            {
                return $"this silo serves {_total} leases (rule: CycleLock:Locks:MaxLeasesPerSilo = {options.MaxLeasesPerSilo})";
            }

            var count = _byLabel.GetValueOrDefault(label ?? string.Empty);
            return count >= options.MaxLeasesPerHolderLabel
                ? $"holder label {LockName.Quote(label ?? string.Empty)} holds {count} leases on this silo (rule: CycleLock:Locks:MaxLeasesPerHolderLabel = {options.MaxLeasesPerHolderLabel})"
                : null;
        }
    }

    internal void Add(string? label)
    {
        lock (_gate)
        {
            _total++;
            var key = label ?? string.Empty;
            _byLabel[key] = _byLabel.GetValueOrDefault(key) + 1;
        }
    }

    internal void Remove(string? label)
    {
        lock (_gate)
        {
            _total--;
            var key = label ?? string.Empty;
            var left = _byLabel.GetValueOrDefault(key) - 1;
            if (left > 0)
            {
                _byLabel[key] = left;
            }
            else
            {
                _byLabel.Remove(key);
            }
        }
    }
}
