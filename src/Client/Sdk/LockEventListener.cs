namespace CycleLock.Client;

/// <summary>
/// A running subscription to the deployment's lock events (stall releases, losses, expiries,
/// force-releases) for a scheduler. It re-subscribes every third of the registration with the cursor it
/// has processed, and at once when a batch is missing from the feed's numbered sequence, so a lost
/// delivery or a restarted feed repeats events rather than skipping them; the handler sees each event id
/// once within a run of the listener (duplicates are filtered here). Dispose to stop.
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
    private ILockEventObserver? _reference;
    private readonly SemaphoreSlim _resync = new(0);
    private Task _loop = Task.CompletedTask;
    private long _cursor;
    private int _generation;
    private long _sequence;
    private TimeSpan _every = TimeSpan.FromSeconds(10);

    internal LockEventListener(IGrainFactory grains, Func<LockEvent, CancellationToken, ValueTask> handler, long afterId, TimeProvider time)
    {
        _grains = grains;
        _feed = grains.GetGrain<ILockEventsGrain>(ILockEventsGrain.DefaultKey);
        _handler = handler;
        _cursor = afterId;
        _time = time;
    }

    /// <summary>The id up to which every event has been handed to the handler (persist it to resume later).</summary>
    public long Cursor => Interlocked.Read(ref _cursor);

    /// <summary>Events the handler has seen.</summary>
    public int Delivered { get; private set; }

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
        if (DropBatch?.Invoke(events) == true)
        {
            return;
        }

        await _serial.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            foreach (var e in events.OrderBy(e => e.Id))
            {
                if (e.Id > Cursor && _seen.Add(e.Id))
                {
                    try
                    {
                        await _handler(e, _stop.Token).ConfigureAwait(false);
                    }
#pragma warning disable CA1031 // A handler's failure must not stop the feed; it is the handler's to log.
                    catch (Exception)
#pragma warning restore CA1031
                    {
                    }

                    Delivered++;
                }
            }

            if (generation == _generation && sequence == _sequence + 1)
            {
                // In order: every event up to the safe cursor has now been handed to the handler.
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
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
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
