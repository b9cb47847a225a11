using Microsoft.Extensions.Logging;

namespace CycleLock.Client;

/// <summary>
/// A running subscription to the deployment's lock events (stall releases, losses, expiries,
/// force-releases) for a scheduler. Delivery is <b>at least once, in event-id order, from a cursor</b>:
/// <list type="bullet">
/// <item>The handler is awaited for one event at a time. An event counts as handled only when the handler
/// returns without throwing; <see cref="Cursor"/> never passes an event that has not been handled, so
/// persisting <see cref="Cursor"/> and resuming from it (<c>SubscribeAsync(handler, cursor)</c>) loses nothing.</item>
/// <item>A handler that throws is logged (a warning with the event, the attempt and the exception) and
/// counted in <see cref="HandlerFailures"/>, and the same event is handed to it again after a backoff of
/// 200 ms, doubling to at most 10 s, for as long as it keeps failing: an event is never skipped. Later events
/// wait behind it (the cursor is a single id), so a handler should catch what it means to skip.</item>
/// <item>Within one listener a handled event is not handed again (the feed's repeats are filtered);
/// a listener resumed from a persisted cursor may see again the events handled after that cursor was
/// saved, so a handler must be idempotent by <see cref="LockEvent.Id"/>.</item>
/// <item>The handler's token is cancelled when the listener is disposed; an event whose handler had not
/// succeeded by then stays after <see cref="Cursor"/>.</item>
/// </list>
/// The listener re-subscribes every third of the registration with its cursor, and at once when a batch
/// is missing from the feed's numbered sequence, so a lost delivery or a restarted feed repeats events
/// rather than skipping them. Dispose to stop.
/// </summary>
public sealed class LockEventListener : ILockEventObserver, IAsyncDisposable
{
    private readonly ILockEventsGrain _feed;
    private readonly IGrainFactory _grains;
    private readonly Func<LockEvent, CancellationToken, ValueTask> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly HashSet<long> _seen = [];
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private ILockEventObserver? _reference;
    private readonly SemaphoreSlim _resync = new(0);
    private Task _loop = Task.CompletedTask;
    private long _cursor;
    private int _generation;
    private long _sequence;
    private TimeSpan _every = TimeSpan.FromSeconds(10);
    private long _handlerFailures;

    internal LockEventListener(IGrainFactory grains, Func<LockEvent, CancellationToken, ValueTask> handler, long afterId, TimeProvider time, ILogger logger)
    {
        _grains = grains;
        _feed = grains.GetGrain<ILockEventsGrain>(ILockEventsGrain.DefaultKey);
        _handler = handler;
        _cursor = afterId;
        _time = time;
        _logger = logger;
    }

    /// <summary>First retry delay after a handler failure: 200 ms (doubling on each further failure).</summary>
    public static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest retry delay after a handler failure: 10 s.</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(10);

    /// <summary>The id up to which every event has been handled: the handler returned without throwing for
    /// each one (persist it to resume later). Never passes an event whose handler has not succeeded.</summary>
    public long Cursor => Interlocked.Read(ref _cursor);

    /// <summary>Events the handler has handled (returned without throwing); an event retried after failures counts once.</summary>
    public int Delivered { get; private set; }

    /// <summary>Handler calls that threw, over the listener's life (each failed retry counts); each is also logged.</summary>
    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);

    /// <summary>Test hook: when it returns true for a batch, the batch is treated as lost in transit.</summary>
    internal Func<LockEvent[], bool>? DropBatch { get; set; }

    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        _reference = _grains.CreateObjectReference<ILockEventObserver>(this);
        await SubscribeAsync(cancellationToken).ConfigureAwait(false);
        _loop = RenewLoopAsync();
    }

    async Task ILockEventObserver.OnEventsAsync(LockEvent[] events, long safeCursor, int generation, long sequence)
    {
        if (_stop.IsCancellationRequested || DropBatch?.Invoke(events) == true)
        {
            return;
        }

        try
        {
            await _serial.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            return; // disposed: the cursor stays where it is
        }

        try
        {
            foreach (var e in events.OrderBy(e => e.Id))
            {
                if (e.Id > Cursor && !_seen.Contains(e.Id))
                {
                    if (!await HandleAsync(e).ConfigureAwait(false))
                    {
                        return; // disposed before the handler succeeded: neither this event nor the cursor moves on
                    }

                    _seen.Add(e.Id);
                    Delivered++;
                }
            }

            if (generation == _generation && sequence == _sequence + 1)
            {
                // In order: every event up to the safe cursor has now been handled.
                _sequence = sequence;
                if (safeCursor > Cursor)
                {
                    Interlocked.Exchange(ref _cursor, safeCursor);
                    _seen.RemoveWhere(id => id <= safeCursor);
                }
            }
            else if (generation >= _generation)
            {
                // A batch was lost (or overtaken): keep the cursor, re-subscribe now so the feed sends again.
                _resync.Release();
            }
        }
        finally
        {
            _serial.Release();
        }
    }

    // Hands one event to the handler until it returns without throwing (true), or the listener is
    // disposed (false). Each failure is counted and logged, then retried after a bounded backoff.
    private async Task<bool> HandleAsync(LockEvent e)
    {
        var delay = FirstRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _handler(e, _stop.Token).ConfigureAwait(false);
                if (attempt > 1)
                {
                    Log.EventHandlerRecovered(_logger, e.Id, e.Kind, e.Name, attempt);
                }

                return true;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return false;
            }
#pragma warning disable CA1031 // Whatever the handler throws, the event is retried, not lost; the failure is logged.
            catch (Exception failure)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref _handlerFailures);
                Log.EventHandlerFailed(_logger, e.Id, e.Kind, e.Name, e.Epoch, attempt, delay, Cursor, failure);
            }

            try
            {
                await Task.Delay(delay, _time, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return false;
            }

            delay = delay * 2 < MaxRetryDelay ? delay * 2 : MaxRetryDelay;
        }
    }

    private async Task SubscribeAsync(CancellationToken cancellationToken)
    {
        int generation;
        long sequence;
        await _serial.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            (generation, sequence) = (_generation, _sequence);
        }
        finally
        {
            _serial.Release();
        }

        var subscription = await _feed.SubscribeAsync(_reference!, Cursor, generation, sequence).WaitAsync(cancellationToken).ConfigureAwait(false);
        await _serial.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (subscription.Generation != _generation)
            {
                (_generation, _sequence) = (subscription.Generation, subscription.Sequence);
                if (Cursor < 0)
                {
                    Interlocked.Exchange(ref _cursor, subscription.Cursor); // "from now", resolved by the feed
                }
            }
        }
        finally
        {
            _serial.Release();
        }

        _every = subscription.RegisteredFor / 3;
    }

    private async Task RenewLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var wake = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                var timer = Task.Delay(_every, _time, wake.Token);
                await Task.WhenAny(timer, _resync.WaitAsync(wake.Token)).ConfigureAwait(false);
                await wake.CancelAsync().ConfigureAwait(false);
                _stop.Token.ThrowIfCancellationRequested();
                await SubscribeAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The cluster may be away; the next renewal resumes from the cursor.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Log.ResubscribeFailed(_logger, Cursor, _every, e);
            }
        }
    }

    /// <summary>Stops: cancels the handler's token, waits for a running handler call to return (so
    /// <see cref="Cursor"/> is final when this returns) and ends the subscription.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await _serial.WaitAsync().ConfigureAwait(false); // a batch being handled ends first
        if (_reference is not null)
        {
            try
            {
                await _feed.UnsubscribeAsync(_reference).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Best effort: the subscription lapses on its own.
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            _grains.DeleteObjectReference<ILockEventObserver>(_reference);
        }

        _stop.Dispose();
        _serial.Dispose();
        _resync.Dispose();
    }
}
