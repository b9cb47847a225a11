using CycleLock.Leasing;
using CycleLock.Persistence;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CycleLock;

/// <summary>
/// The deployment's feed of stall releases, losses, expiries and force-releases (see
/// <see cref="ILockEventsGrain"/>). It reads the durable history once per poll interval while it has
/// subscribers — one statement per interval for the whole deployment, however many locks there are —
/// and pushes new events one-way to each subscriber. A subscriber's cursor advances only over history ids
/// that are final (every transaction that could still add a smaller id has ended), batches are numbered so
/// a lost one is noticed, and a subscriber that missed one restarts from its own cursor: an event is never
/// skipped; it may be delivered more than once.
/// </summary>
[GrainType("cycle-lock-events")]
public sealed class LockEventsGrain : Grain, ILockEventsGrain
{
    private const int PageSize = 500;
    private const int MaxPages = 20;
    private const int MaxSubscribers = 1000;

    /// <summary>The most subscriptions the observers of one client may hold: one client took all 1 000 before, and
    /// every scheduler's subscribe then failed.</summary>
    public const int MaxSubscribersPerClient = 16;

    private readonly ILeaseStore _store;
    private readonly TimeProvider _time;
    private readonly CycleLockOptions _options;
    private readonly ILogger<LockEventsGrain> _logger;
    private readonly Dictionary<ILockEventObserver, Subscriber> _subscribers = [];
    private readonly Queue<(long MaxId, long Xmax)> _horizons = new();
    private long _settled;
    private IGrainTimer? _timer;

    /// <summary>Created by Orleans.</summary>
    public LockEventsGrain(ILeaseStore store, TimeProvider time, IOptions<CycleLockOptions> options, ILogger<LockEventsGrain> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    private TimeSpan RegisteredFor => _options.EventPollInterval * 30;

    // The client an observer lives in: an observer's grain key is the client's key, '+', then the observer's own id
    // (Orleans' ObserverGrainId, whose separator constant is internal).
    private static string ClientOf(ILockEventObserver observer)
    {
        var key = observer.GetGrainId().Key.ToString();
        var separator = key.IndexOf('+', StringComparison.Ordinal);
        return separator < 0 ? key : key[..separator];
    }

    /// <inheritdoc />
    public async Task<LockEventSubscription> SubscribeAsync(ILockEventObserver observer, long afterId, int generation, long sequence)
    {
        ArgumentNullException.ThrowIfNull(observer);
        if (afterId < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(afterId), afterId, $"Event cursor {afterId} is not valid (rule: -1 for \"from now\", otherwise the last processed event id, 0 or more).");
        }

        if (afterId == -1)
        {
            afterId = await _store.LatestHistoryIdAsync(CancellationToken.None);
        }

        var lapsesAt = _time.GetTimestamp() + (long)(RegisteredFor.TotalSeconds * _time.TimestampFrequency);
        if (!_subscribers.TryGetValue(observer, out var subscriber))
        {
            if (_subscribers.Count >= MaxSubscribers)
            {
                throw new InvalidOperationException($"The lock event feed has {MaxSubscribers} subscribers (rule: at most {MaxSubscribers}).");
            }

            var client = ClientOf(observer);
            if (_subscribers.Keys.Count(o => ClientOf(o) == client) >= MaxSubscribersPerClient)
            {
                throw new InvalidOperationException($"This client already holds {MaxSubscribersPerClient} subscriptions to the lock event feed (rule: at most {MaxSubscribersPerClient} per client; unsubscribe one first).");
            }

            subscriber = new Subscriber(afterId, lapsesAt, Math.Max(generation, 0) + 1);
            _subscribers[observer] = subscriber;
        }
        else if (generation != subscriber.Generation || sequence != subscriber.Sequence || afterId < subscriber.Cursor)
        {
            // The subscriber missed a batch (or is behind, or is a new instance): start again from its own
            // cursor under a new generation, so every batch it has not processed is sent again.
            subscriber.Restart(afterId, Math.Max(generation, subscriber.Generation) + 1);
        }

        subscriber.LapsesAt = lapsesAt;
        _timer ??= this.RegisterGrainTimer(
            static (grain, token) => grain.PollAsync(token),
            this,
            new GrainTimerCreationOptions(TimeSpan.Zero, _options.EventPollInterval) { Interleave = false, KeepAlive = true });
        return new LockEventSubscription(subscriber.Cursor, subscriber.Generation, subscriber.Sequence, RegisteredFor, _options.EventPollInterval);
    }

    /// <inheritdoc />
    public Task<bool> UnsubscribeAsync(ILockEventObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var removed = _subscribers.Remove(observer);
        StopWhenIdle();
        return Task.FromResult(removed);
    }

    /// <inheritdoc />
    public async Task<LockEvent[]> ReadAsync(long afterId, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterId);
        if (limit is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"Event limit {limit} is out of range (rule: 1 to 1000).");
        }

        var events = await _store.EventsAsync(afterId, limit, CancellationToken.None);
        return [.. events.Events];
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetTimestamp();
        foreach (var lapsed in _subscribers.Where(s => s.Value.LapsesAt <= now).Select(s => s.Key).ToList())
        {
            _subscribers.Remove(lapsed);
        }

        if (StopWhenIdle())
        {
            return;
        }

        var events = new List<LockEvent>();
        var readTo = long.MaxValue;
        EventPage first;
        try
        {
            // Pages until a short page (at most MaxPages per poll): a burst of events (many leases expiring
            // at once) is read in full rather than one page per poll.
            var after = _subscribers.Values.Min(s => s.Cursor);
            first = await _store.EventsAsync(after, PageSize, cancellationToken);
            var page = first;
            for (var pages = 1; ; pages++)
            {
                events.AddRange(page.Events);
                if (page.Events.Count < PageSize)
                {
                    break;
                }

                after = page.Events[^1].Id;
                if (pages == MaxPages)
                {
                    readTo = after; // the rest is read on the next poll
                    break;
                }

                page = await _store.EventsAsync(after, PageSize, cancellationToken);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.EventsFailed(_logger, e);
            return;
        }

        // Every history id up to an earlier read's largest visible id is final once every transaction that
        // was running at that read has ended (this read's xmin reached that read's xmax): only then may a
        // cursor pass it. This read's horizon is settled by a later one.
        while (_horizons.TryPeek(out var horizon) && horizon.Xmax <= first.SnapshotXmin)
        {
            _settled = Math.Max(_settled, horizon.MaxId);
            _horizons.Dequeue();
        }

        _horizons.Enqueue((first.MaxId, first.SnapshotXmax));
        var safe = Math.Min(_settled, readTo);

        foreach (var (observer, subscriber) in _subscribers)
        {
            var fresh = events.Where(e => e.Id > subscriber.Cursor && !subscriber.Delivered.Contains(e.Id)).ToArray();
            var cursor = Math.Max(subscriber.Cursor, safe);
            if (fresh.Length == 0 && cursor == subscriber.Cursor)
            {
                continue;
            }

            subscriber.Delivered.UnionWith(fresh.Select(e => e.Id));
            subscriber.Cursor = cursor;
            subscriber.Delivered.RemoveWhere(id => id <= cursor);
            subscriber.Sequence++;
            try
            {
                // One-way, never awaited. A lost batch shows as a gap in the sequence; the subscriber then
                // re-subscribes from its own cursor and the feed sends again what it missed.
                _ = observer.OnEventsAsync(fresh, cursor, subscriber.Generation, subscriber.Sequence);
            }
            catch (Exception e) when (e is not ArgumentException)
            {
                Log.EventsFailed(_logger, e);
            }
        }
    }

    private bool StopWhenIdle()
    {
        if (_subscribers.Count > 0)
        {
            return false;
        }

        _timer?.Dispose();
        _timer = null;
        return true;
    }

    private sealed class Subscriber(long cursor, long lapsesAt, int generation)
    {
        public long Cursor { get; set; } = cursor;

        public long LapsesAt { get; set; } = lapsesAt;

        public int Generation { get; private set; } = generation;

        public long Sequence { get; set; }

        public HashSet<long> Delivered { get; } = [];

        public void Restart(long cursor, int generation)
        {
            Cursor = cursor;
            Generation = generation;
            Sequence = 0;
            Delivered.Clear();
        }
    }
}
