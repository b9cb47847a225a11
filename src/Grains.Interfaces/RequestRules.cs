namespace CycleLock;

/// <summary>
/// Validation of request fields shared by the SDK and the grain. Each failure is an
/// <see cref="ArgumentException"/> (or <see cref="ArgumentOutOfRangeException"/>) naming the value
/// and the rule; a rejected request changes nothing.
/// </summary>
public static class RequestRules
{
    /// <summary>Longest holder label: 200 characters.</summary>
    public const int MaxLabelLength = 200;

    /// <summary>Longest lease key: 200 characters.</summary>
    public const int MaxKeyLength = 200;

    /// <summary>Longest force-release reason: 500 characters.</summary>
    public const int MaxReasonLength = 500;

    /// <summary>The longest TTL any silo accepts: 24 h.</summary>
    public static readonly TimeSpan MaxTtl = TimeSpan.FromHours(24);

    /// <summary>Checks a holder id: not <see cref="Guid.Empty"/>.</summary>
    public static void HolderId(Guid holderId, string paramName = "holderId")
    {
        if (holderId == Guid.Empty)
        {
            throw new ArgumentException($"Holder id {holderId} is empty (rule: a fresh non-empty GUID per acquire).", paramName);
        }
    }

    /// <summary>Checks a lease key: present, at most <see cref="MaxKeyLength"/> characters.</summary>
    public static void Key(LeaseKey key, string paramName = "key")
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("Lease key is empty (rule: a non-empty secret per acquire).", paramName);
        }

        if (key.Value.Length > MaxKeyLength)
        {
            throw new ArgumentException($"Lease key is {key.Value.Length} characters (rule: at most {MaxKeyLength}).", paramName);
        }

        if (LockName.LoneSurrogateAt(key.Value) is { } index)
        {
            // Hashed as UTF-8, a lone surrogate becomes U+FFFD: two different keys would be one.
            throw new ArgumentException($"Lease key is not valid Unicode: lone surrogate at index {index} (rule: well-formed UTF-16 text; the key is not shown).", paramName);
        }
    }

    /// <summary>Checks an epoch: at least 1.</summary>
    public static void Epoch(long epoch, string paramName = "epoch")
    {
        if (epoch < 1)
        {
            throw new ArgumentOutOfRangeException(paramName, epoch, $"Epoch {epoch} is not valid (rule: epochs start at 1).");
        }
    }

    /// <summary>Checks display text: at most <paramref name="maxLength"/> characters, no control characters, well-formed
    /// UTF-16 (a lone surrogate cannot be stored as UTF-8).</summary>
    public static void Text(string? text, int maxLength, string what, string paramName)
    {
        ArgumentNullException.ThrowIfNull(text, paramName);
        if (text.Length > maxLength)
        {
            throw new ArgumentException($"{what} {LockName.Quote(text)} is {text.Length} characters (rule: at most {maxLength}).", paramName);
        }

        foreach (var c in text)
        {
            if (char.IsControl(c))
            {
                throw new ArgumentException($"{what} {LockName.Quote(text)} contains control character U+{(int)c:X4} (rule: no control characters).", paramName);
            }
        }

        if (LockName.LoneSurrogateAt(text) is { } index)
        {
            throw new ArgumentException($"{what} {LockName.Quote(text)} is not valid Unicode: lone surrogate U+{(int)text[index]:X4} at index {index} (rule: well-formed UTF-16 text).", paramName);
        }
    }

    /// <summary>The states a console query filters by.</summary>
    public static readonly IReadOnlyList<string> QueryStates = ["held", "free", "dead", "expired", "jeopardy"];

    /// <summary>Checks a console query: prefix text of at most 256 characters, a known state, holder text of at most
    /// <see cref="MaxLabelLength"/>, a defined sort, offset 0 to 1 000 000, limit 1 to 500.</summary>
    public static void Query(LockQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Prefix is { } prefix)
        {
            Text(prefix, LockName.MaxUtf8Bytes, "Name prefix", nameof(query.Prefix));
        }

        if (query.State is { } state && !QueryStates.Contains(state))
        {
            throw new ArgumentException($"State filter {LockName.Quote(state)} is not known (rule: one of {string.Join(", ", QueryStates)}).", nameof(query));
        }

        if (query.Holder is { } holder)
        {
            Text(holder, MaxLabelLength, "Holder filter", nameof(query.Holder));
        }

        if (!Enum.IsDefined(query.Sort))
        {
            throw new ArgumentException($"Sort {(int)query.Sort} is not defined (rule: one of {string.Join(", ", Enum.GetNames<LockSort>())}).", nameof(query));
        }

        if (query.Offset is < 0 or > 1_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Offset, $"Offset {query.Offset} is out of range (rule: 0 to 1000000).");
        }

        if (query.Limit is < 1 or > 500)
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Limit, $"Page size {query.Limit} is out of range (rule: 1 to 500).");
        }
    }

    /// <summary>Checks a console timeline request: 1 to 200 lock names, a start at most a day back.</summary>
    public static string[] RecentHistory(string[] names, DateTimeOffset since, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Length is < 1 or > 200)
        {
            throw new ArgumentOutOfRangeException(nameof(names), names.Length, $"{names.Length} lock names (rule: 1 to 200).");
        }

        if (since < now - TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(nameof(since), since, $"Start {since:O} is more than a day back (rule: at most 24 h).");
        }

        return [.. names.Select(LockName.Normalize).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Checks a TTL against the absolute bounds (positive, at most 24 h) and, when given,
    /// a silo's floor.</summary>
    public static void Ttl(TimeSpan ttl, TimeSpan floor) => Ttl(ttl, floor, MaxTtl, "ttl");

    /// <inheritdoc cref="Ttl(TimeSpan, TimeSpan)"/>
    public static void Ttl(TimeSpan ttl, TimeSpan floor, string paramName) => Ttl(ttl, floor, MaxTtl, paramName);

    /// <summary>Checks a TTL against a silo's floor and its maximum (<c>CycleLock:Locks:MaxTtl</c>, at most 24 h).</summary>
    public static void Ttl(TimeSpan ttl, TimeSpan floor, TimeSpan max, string paramName)
    {
        if (ttl < floor || ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, ttl, $"TTL {ttl} is below the floor {floor} (rule: TTL between {floor} and {max}).");
        }

        if (ttl > max)
        {
            throw new ArgumentOutOfRangeException(paramName, ttl, $"TTL {ttl} is above {max} (rule: TTL between {floor} and {max}; the cluster's maximum is CycleLock:Locks:MaxTtl).");
        }
    }

    /// <summary>Checks a TTL against a deployment's <paramref name="limits"/> (floor and maximum); a TTL below
    /// the floor is refused with the floor, what sets it and how to lower it.</summary>
    public static void Ttl(TimeSpan ttl, LockLimits limits) => Ttl(ttl, limits, "ttl");

    /// <inheritdoc cref="Ttl(TimeSpan, LockLimits)"/>
    public static void Ttl(TimeSpan ttl, LockLimits limits, string paramName)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (ttl < limits.Floor || ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName, ttl, $"TTL {ttl} is below the floor {limits.Floor} (rule: TTL between {limits.Floor} and {limits.MaxTtl}). {limits.DescribeFloor()}");
        }

        Ttl(ttl, limits.Floor, limits.MaxTtl, paramName);
    }

    /// <summary>Checks an acquire request.</summary>
    public static void Acquire(AcquireRequest request, TimeSpan floor) => Acquire(request, floor, MaxTtl);

    /// <summary>Checks an acquire request against a silo's floor and maximum TTL.</summary>
    public static void Acquire(AcquireRequest request, TimeSpan floor, TimeSpan maxTtl)
    {
        ArgumentNullException.ThrowIfNull(request);
        HolderId(request.HolderId, nameof(request.HolderId));
        Key(request.Key, nameof(request.Key));
        Text(request.HolderLabel, MaxLabelLength, "Holder label", nameof(request.HolderLabel));
        Ttl(request.Ttl, floor, maxTtl, nameof(request.Ttl));
    }

    /// <summary>Checks a keep-alive request.</summary>
    public static void KeepAlive(KeepAliveRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        HolderId(request.HolderId, nameof(request.HolderId));
        Key(request.Key, nameof(request.Key));
        Epoch(request.Epoch, nameof(request.Epoch));
    }

    /// <summary>Checks a release request.</summary>
    public static void Release(ReleaseRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        HolderId(request.HolderId, nameof(request.HolderId));
        Key(request.Key, nameof(request.Key));
        Epoch(request.Epoch, nameof(request.Epoch));
        if (!Enum.IsDefined(request.Reason) || request.Reason is ReleaseReason.Stalled)
        {
            throw new ArgumentOutOfRangeException(nameof(request.Reason), request.Reason, $"Release reason {request.Reason} is not allowed (rule: completed, failed, lease-lost, shutdown or abandoned; stalled comes only from the grain).");
        }
    }

    /// <summary>Checks a force-release request.</summary>
    public static void ForceRelease(ForceReleaseRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Epoch(request.ExpectedEpoch, nameof(request.ExpectedEpoch));
        Text(request.Reason, MaxReasonLength, "Force-release reason", nameof(request.Reason));
        Text(request.By, MaxLabelLength, "Force-release operator", nameof(request.By));
        if (string.IsNullOrWhiteSpace(request.Reason))
        {
            throw new ArgumentException("Force-release reason is empty (rule: say why, for history).", nameof(request.Reason));
        }
    }

    /// <summary>Checks an abandon request.</summary>
    public static void Abandon(AbandonRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        HolderId(request.HolderId, nameof(request.HolderId));
        Key(request.Key, nameof(request.Key));
    }

    /// <summary>Checks a waiter's registration.</summary>
    public static void Wait(WaitRequest request, TimeSpan floor)
    {
        ArgumentNullException.ThrowIfNull(request);
        HolderId(request.WaiterId, nameof(request.WaiterId));
        Text(request.HolderLabel, MaxLabelLength, "Holder label", nameof(request.HolderLabel));
        Ttl(request.Ttl, floor, nameof(request.Ttl));
        if (request.Waiter is null)
        {
            throw new ArgumentNullException(nameof(request.Waiter), "Waiter is null (rule: an observer reference made with CreateObjectReference).");
        }
    }
}
