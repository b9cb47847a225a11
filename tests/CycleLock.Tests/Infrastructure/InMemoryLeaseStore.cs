using System.Security.Cryptography;
using CycleLock.Persistence;

namespace CycleLock.Tests.Infrastructure;

/// <summary>
/// An in-memory lease store with the same semantics as the PostgreSQL functions, for fast grain-logic
/// tests and the interleaving explorer. Its "database clock" is a <see cref="TimeProvider"/>'s UTC now.
/// It passes the same conformance suite as <see cref="PostgresLeaseStore"/>; row locks are one monitor.
/// </summary>
public sealed class InMemoryLeaseStore(TimeProvider clock) : ILeaseStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Row> _rows = new(StringComparer.Ordinal);
    private readonly HashSet<(string, Guid)> _spent = [];
    private readonly List<LockHistoryEntry> _history = [];
    private long _sequence;
    private long _historyId;

    public IReadOnlyList<LockHistoryEntry> AllHistory
    {
        get
        {
            lock (_gate)
            {
                return [.. _history];
            }
        }
    }

    public Task<StoreResult> AcquireAsync(string name, Guid holderId, string label, LeaseKey key, TimeSpan ttl, string activation, CancellationToken cancellationToken) => Run(() =>
    {
        var r = RowOf(name);
        var now = Now;
        var hash = key.Hash();
        if (r.State == "held" && r.HolderId == holderId && Same(r.KeyHash, hash) && r.ExpiresAt > now)
        {
            if (r.Ttl != ttl)
            {
                return Result("ttl-mismatch", r, null);
            }

            var previous = r.Activation;
            r.PrevActivation = r.Activation;
            if (previous != activation)
            {
                r.FenceUntil = Max(r.FenceUntil, r.ExpiresAt!.Value);
                AddHistory(name, r.Epoch, "adopted", r.HolderId, r.HolderLabel, null, activation, previous, null, now);
            }

            r.Activation = activation;
            return Result("reacquired", r, null);
        }

        if (r.State == "held" && r.ExpiresAt <= now)
        {
            AddEnd(name, r.Epoch, "expired", r.HolderId, r.HolderLabel, null, r.Activation, null, r.ExpiresAt!.Value);
            _spent.Add((name, r.HolderId!.Value));
            r.State = "free";
            r.KeyHash = null;
            r.Activation = null;
            r.LastReleaseReason = "expired";
        }

        if (_spent.Contains((name, holderId)))
        {
            return Result("spent", r, null);
        }

        if (r.State == "dead")
        {
            return Result("dead", r, r.LastReleaseReason);
        }

        if (r.State == "held")
        {
            return Result("busy-held", r, null, until: Max(r.ExpiresAt!.Value, r.FenceUntil));
        }

        if (now < r.FenceUntil)
        {
            return Result("busy-fenced", r, null, until: r.FenceUntil);
        }

        r.State = "held";
        r.Epoch = ++_sequence;
        r.HolderId = holderId;
        r.HolderLabel = label;
        r.KeyHash = hash;
        r.Activation = activation;
        r.PrevActivation = null;
        r.AcquiredAt = now;
        r.RenewedAt = now;
        r.ExpiresAt = now + ttl;
        r.Ttl = ttl;
        AddHistory(name, r.Epoch, "granted", holderId, label, null, activation, null, null, now);
        return Result("granted", r, null);
    });

    public Task<StoreResult> AdoptAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, CancellationToken cancellationToken) => Run(() =>
    {
        var now = Now;
        var hash = key.Hash();
        if (_rows.TryGetValue(name, out var r) && r.State == "held" && r.HolderId == holderId && Same(r.KeyHash, hash) && r.Epoch == epoch && r.ExpiresAt > now)
        {
            var previous = r.Activation;
            r.PrevActivation = previous;
            if (previous != activation)
            {
                r.FenceUntil = Max(r.FenceUntil, r.ExpiresAt!.Value);
                AddHistory(name, r.Epoch, "adopted", holderId, r.HolderLabel, null, activation, previous, null, now);
            }

            r.Activation = activation;
            return Result("adopted", r, null);
        }

        return Mismatch(name, holderId, hash, epoch, activation);
    });

    public Task<StoreResult> RenewAsync(string name, Guid holderId, long epoch, string activation, TimeSpan ttl, CancellationToken cancellationToken) => Run(() =>
    {
        var now = Now;
        if (_rows.TryGetValue(name, out var r) && r.State == "held" && r.HolderId == holderId && r.Epoch == epoch && r.Activation == activation && r.Ttl == ttl && r.ExpiresAt > now)
        {
            r.RenewedAt = now;
            r.ExpiresAt = now + ttl;
            return Result("renewed", r, null);
        }

        return Mismatch(name, holderId, null, epoch, activation);
    });

    public Task<StoreResult> ReleaseAsync(string name, Guid holderId, LeaseKey key, long epoch, string activation, ReleaseReason reason, bool byHolder, int maxStalls, CancellationToken cancellationToken) => Run(() =>
    {
        var now = Now;
        var hash = key.Hash();
        var text = reason.ToText();
        if (_rows.TryGetValue(name, out var r) && r.State == "held" && r.HolderId == holderId && Same(r.KeyHash, hash) && r.Epoch == epoch && r.Activation == activation)
        {
            r.State = text == "stalled" && maxStalls > 0 && r.Stalls + 1 >= maxStalls ? "dead" : "free";
            r.Attempts = text switch { "completed" => 0, "failed" => r.Attempts + 1, _ => r.Attempts };
            r.Stalls = text switch { "completed" => 0, "stalled" => r.Stalls + (maxStalls < 0 ? 0 : 1), _ => r.Stalls };
            r.LastReleaseReason = text;
            r.KeyHash = null;
            r.Activation = null;
            r.ExpiresAt = Min(r.ExpiresAt!.Value, now);
            r.FenceUntil = byHolder ? Min(r.FenceUntil, now) : Max(r.FenceUntil, now);
            AddEnd(name, epoch, text == "lease-lost" && !byHolder ? "lost" : "released", holderId, r.HolderLabel, text, activation, null, now);
            _spent.Add((name, holderId));
            return Result("released", r, text);
        }

        if (EndReason(name, epoch, holderId) is { } ended)
        {
            return Result("already-released", RowOf(name), ended);
        }

        return Mismatch(name, holderId, hash, epoch, activation);
    });

    public Task<StoreResult> ForceReleaseAsync(string name, long expectedEpoch, string reason, string by, string operatorName, bool skipDelay, string selfActivation, TimeSpan promiseLeft, TimeSpan margin, CancellationToken cancellationToken) => Run(() =>
    {
        _rows.TryGetValue(name, out var r);
        if (r is null || r.Epoch != expectedEpoch)
        {
            var forced = _history.Any(h => h.Name == name && h.Epoch == expectedEpoch && h.Event == "force-released");
            return Result(forced ? "already-released" : "wrong-epoch", r ?? new Row(), forced ? "force-released" : null);
        }

        if (r.State != "held")
        {
            return Result("not-held", r, null);
        }

        var now = Now;
        var old = (r.Epoch, r.HolderId, r.HolderLabel, r.Activation, ExpiresAt: r.ExpiresAt!.Value);
        r.Epoch = ++_sequence;
        r.State = "free";
        r.KeyHash = null;
        r.Activation = null;
        r.LastReleaseReason = "force-released";
        r.ExpiresAt = Min(old.ExpiresAt, now);
        r.FenceUntil = skipDelay
            ? r.FenceUntil
            : Max(r.FenceUntil, old.Activation == selfActivation ? now + promiseLeft + margin : old.ExpiresAt);
        AddEnd(name, old.Epoch, "force-released", old.HolderId, old.HolderLabel, reason, old.Activation, by, now);
        _spent.Add((name, old.HolderId!.Value));
        return Result("force-released", r, reason);
    });

    public Task<StoreResult> AbandonAsync(string name, Guid holderId, LeaseKey key, CancellationToken cancellationToken) => Run(() =>
    {
        var r = RowOf(name);
        _spent.Add((name, holderId));
        var now = Now;
        if (r.State == "held" && r.HolderId == holderId && Same(r.KeyHash, key.Hash()))
        {
            r.State = "free";
            r.KeyHash = null;
            r.Activation = null;
            r.LastReleaseReason = "abandoned";
            r.ExpiresAt = Min(r.ExpiresAt!.Value, now);
            r.FenceUntil = Min(r.FenceUntil, now);
            AddEnd(name, r.Epoch, "released", holderId, r.HolderLabel, "abandoned", null, null, now);
            return Result("abandoned", r, "abandoned");
        }

        return Result("nothing", r, null);
    });

    public Task<StoreResult> ResetAsync(string name, string by, string operatorName, CancellationToken cancellationToken) => Run(() =>
    {
        var r = RowOf(name);
        if (r.State != "dead")
        {
            return Result("not-dead", r, null);
        }

        r.State = "free";
        r.Attempts = 0;
        r.Stalls = 0;
        AddHistory(name, r.Epoch, "reset", null, null, null, null, null, by, Now);
        return Result("reset", r, null);
    });

    public Task<LockInfo> GetAsync(string name, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_rows.TryGetValue(name, out var r)
                ? Info(name, r)
                : new LockInfo(name, LockState.Free, 0, null, null, null, null, null, null, TimeSpan.Zero, null, 0, 0, null, null, false));
        }
    }

    public Task<IReadOnlyList<LockInfo>> ListAsync(string? afterName, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<LockInfo> list = [.. _rows.Where(p => afterName is null || string.CompareOrdinal(p.Key, afterName) > 0)
                .OrderBy(p => p.Key, StringComparer.Ordinal).Take(limit).Select(p => Info(p.Key, p.Value))];
            return Task.FromResult(list);
        }
    }

    public Task<int> PruneAsync(TimeSpan historyRetention, TimeSpan spentRetention, int batchSize, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var cutoff = Now - historyRetention;
            var doomed = _history.Where(h => h.At < cutoff).Take(batchSize).ToList();
            _history.RemoveAll(doomed.Contains);
            return Task.FromResult(doomed.Count);
        }
    }

    public Task<IReadOnlyList<LockHistoryEntry>> HistoryAsync(string name, long? beforeId, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<LockHistoryEntry> list = [.. _history.Where(h => h.Name == name && (beforeId is null || h.Id < beforeId)).OrderByDescending(h => h.Id).Take(limit)];
            return Task.FromResult(list);
        }
    }

    public Task<EventPage> EventsAsync(long afterId, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // No concurrent transactions here: every id is final as soon as it exists.
            List<LockEvent> list = [.. _history
                .Where(h => h.Id > afterId && (h.Event is "lost" or "expired" or "force-released" || (h.Event == "released" && h.Reason is "stalled" or "lease-lost")))
                .OrderBy(h => h.Id)
                .Take(limit)
                .Select(h =>
                {
                    var row = _rows.GetValueOrDefault(h.Name);
                    var kind = h.Event switch
                    {
                        "released" when h.Reason == "stalled" => LockEventKind.Stalled,
                        "released" or "lost" => LockEventKind.Lost,
                        "expired" => LockEventKind.Expired,
                        _ => LockEventKind.ForceReleased,
                    };
                    return new LockEvent(h.Id, h.Name, h.Epoch, kind, h.HolderId, h.HolderLabel, h.Reason ?? h.By, h.At,
                        row?.Attempts ?? 0, row?.Stalls ?? 0, row?.State == "dead");
                })];
            return Task.FromResult(new EventPage(list, _historyId, 0, 0));
        }
    }

    public Task<long> LatestHistoryIdAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_history.Count == 0 ? 0L : _history.Max(h => h.Id));
        }
    }

    private DateTimeOffset Now => clock.GetUtcNow();

    private Task<StoreResult> Run(Func<StoreResult> operation)
    {
        lock (_gate)
        {
            return Task.FromResult(operation());
        }
    }

    private Row RowOf(string name)
    {
        if (!_rows.TryGetValue(name, out var row))
        {
            row = new Row();
            _rows[name] = row;
        }

        return row;
    }

    private StoreResult Mismatch(string name, Guid holderId, byte[]? hash, long epoch, string? activation)
    {
        _rows.TryGetValue(name, out var r);
        if (r is not null && r.State == "held" && r.HolderId == holderId && r.Epoch == epoch
            && (hash is null || Same(r.KeyHash, hash)) && r.Activation != activation && r.ExpiresAt > Now)
        {
            return Result("moved", r, null);
        }

        return EndReason(name, epoch, holderId) is { } reason ? Result("ended", r ?? new Row(), reason) : Result("lost", r ?? new Row(), null);
    }

    private string? EndReason(string name, long epoch, Guid holderId)
    {
        var end = _history.FirstOrDefault(h => h.Name == name && h.Epoch == epoch && IsEnd(h.Event) && h.HolderId == holderId);
        return end is null ? null : end.Event switch { "released" => end.Reason, "lost" => "lease-lost", _ => end.Event };
    }

    private void AddEnd(string name, long epoch, string @event, Guid? holderId, string? label, string? reason, string? activation, string? by, DateTimeOffset at)
    {
        if (_history.Any(h => h.Name == name && h.Epoch == epoch && IsEnd(h.Event)))
        {
            return; // ON CONFLICT (lock, epoch) DO NOTHING
        }

        AddHistory(name, epoch, @event, holderId, label, reason, activation, null, by, at);
    }

    private void AddHistory(string name, long epoch, string @event, Guid? holderId, string? label, string? reason, string? activation, string? previous, string? by, DateTimeOffset at) =>
        _history.Add(new LockHistoryEntry(++_historyId, name, epoch, @event, holderId, label, reason, activation, previous, by, at));

    private static bool IsEnd(string @event) => @event is "released" or "lost" or "expired" or "force-released";

    private StoreResult Result(string outcome, Row r, string? reason, DateTimeOffset? until = null)
    {
        var now = Now;
        var remaining = (until ?? r.ExpiresAt) is { } end && end > now ? end - now : TimeSpan.Zero;
        return new StoreResult(StoreOutcomes.Parse(outcome), r.Epoch, r.HolderId, r.HolderLabel, r.Activation, r.PrevActivation, remaining,
            r.FenceUntil == DateTimeOffset.MinValue ? null : r.FenceUntil, now, r.Ttl, r.Attempts, r.Stalls, reason);
    }

    private LockInfo Info(string name, Row r)
    {
        var now = Now;
        var end = r.State == "held" ? r.ExpiresAt : r.FenceUntil;
        return new LockInfo(name, r.State switch { "held" => LockState.Held, "dead" => LockState.Dead, _ => LockState.Free }, r.Epoch, r.HolderId, r.HolderLabel,
            r.AcquiredAt, r.RenewedAt, r.ExpiresAt, r.FenceUntil == DateTimeOffset.MinValue ? null : r.FenceUntil,
            end is { } e && e > now ? e - now : TimeSpan.Zero, r.Ttl, r.Attempts, r.Stalls, r.LastReleaseReason, r.Activation, true);
    }

    private static bool Same(byte[]? a, byte[]? b) => a is not null && b is not null && CryptographicOperations.FixedTimeEquals(a, b);

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private sealed class Row
    {
        public string State { get; set; } = "free";
        public long Epoch { get; set; }
        public Guid? HolderId { get; set; }
        public string? HolderLabel { get; set; }
        public byte[]? KeyHash { get; set; }
        public string? Activation { get; set; }
        public string? PrevActivation { get; set; }
        public DateTimeOffset? AcquiredAt { get; set; }
        public DateTimeOffset? RenewedAt { get; set; }
        public DateTimeOffset? ExpiresAt { get; set; }
        public DateTimeOffset FenceUntil { get; set; } = DateTimeOffset.MinValue;
        public TimeSpan? Ttl { get; set; }
        public int Attempts { get; set; }
        public int Stalls { get; set; }
        public string? LastReleaseReason { get; set; }
    }
}
