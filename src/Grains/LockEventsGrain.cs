using CycleLock.Leasing;
using CycleLock.Persistence;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CycleLock;

/// <summary>
/// The deployment's feed of stall releases, losses, expiries and force-releases (see
/// <see cref="ILockEventsGrain"/>). It reads the durable history once per poll interval while it has
/// subscribers — one statement per interval for the whole deployment, however many locks there are —
/// and pushes new events one-way to each subscriber. A subscriber's cursor advances only over settled
/// rows, and every re-subscription restarts from the subscriber's own cursor, so an event is never
/// skipped: a lost delivery, a restarted feed or a late-committing row is delivered again later.
/// </summary>
[GrainType("cycle-lock-events")]
public sealed class LockEventsGrain : Grain, ILockEventsGrain
{
    private const int PageSize = 500;
    private const int MaxPages = 20;
    private const int MaxSubscribers = 1000;

    private readonly ILeaseStore _store;
    private readonly TimeProvider _time;
    private readonly CycleLockOptions _options;
    private readonly ILogger<LockEventsGrain> _logger;
    private readonly Dictionary<ILockEventObserver, Subscriber> _subscribers = [];
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

    /// <inheritdoc />
    public async Task<LockEventSubscription> SubscribeAsync(ILockEventObserver observer, long afterId)
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
        if (_subscribers.TryGetValue(observer, out var existing))
        {
            existing.LapsesAt = lapsesAt;
            if (afterId < existing.Cursor)
            {
                // The subscriber has not processed what was sent (a delivery was lost): send it again.
                existing.Cursor = afterId;
                existing.Delivered.Clear();
            }
        }
        else
        {
            if (_subscribers.Count >= MaxSubscribers)
            {
                throw new InvalidOperationException($"The lock event feed has {MaxSubscribers} subscribers (rule: at most {MaxSubscribers}).");
            }

            _subscribers[observer] = new Subscriber(afterId, lapsesAt);
        }

        _timer ??= this.RegisterGrainTimer(
            static (grain, token) => grain.PollAsync(token),
            this,
            new GrainTimerCreationOptions(TimeSpan.Zero, _options.EventPollInterval) { Interleave = false, KeepAlive = true });
        return new LockEventSubscription(afterId, RegisteredFor, _options.EventPollInterval);
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
        return [.. events.Select(e => e.Event)];
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

        var events = new List<(LockEvent Event, bool Settled)>();
        try
        {
            // Pages until a short page (at most MaxPages per poll): a burst of events (many leases expiring
            // at once) is read in full rather than one page per settle period.
            var after = _subscribers.Values.Min(s => s.Cursor);
            for (var page = 0; page < MaxPages; page++)
            {
                var batch = await _store.EventsAsync(after, PageSize, cancellationToken);
                events.AddRange(batch);
                if (batch.Count < PageSize)
                {
                    break;
                }

                after = batch[^1].Event.Id;
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.EventsFailed(_logger, e);
            return;
        }

        foreach (var (observer, subscriber) in _subscribers)
        {
            var fresh = new List<LockEvent>();
            var settledPrefix = true;
            var cursor = subscriber.Cursor;
            foreach (var (e, settled) in events)
            {
                if (e.Id <= subscriber.Cursor)
                {
                    continue;
                }

                if (subscriber.Delivered.Add(e.Id))
                {
                    fresh.Add(e);
                }

                settledPrefix &= settled;
                if (settledPrefix)
                {
                    cursor = e.Id;
                }
            }

            if (fresh.Count == 0 && cursor == subscriber.Cursor)
            {
                continue;
            }

            subscriber.Cursor = cursor;
            subscriber.Delivered.RemoveWhere(id => id <= cursor);
            try
            {
                // One-way: never awaited; a lost delivery is repeated after the subscriber re-subscribes.
                _ = observer.OnEventsAsync([.. fresh], cursor);
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

    private sealed class Subscriber(long cursor, long lapsesAt)
    {
        public long Cursor { get; set; } = cursor;

        public long LapsesAt { get; set; } = lapsesAt;

        public HashSet<long> Delivered { get; } = [];
    }
}
