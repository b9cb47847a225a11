namespace CycleLock.Client;

/// <summary>
/// A running subscription to the deployment's lock events (stall releases, losses, expiries,
/// force-releases) for a scheduler. It re-subscribes every third of the registration with the cursor it
/// has processed, so a lost delivery or a restarted feed repeats events rather than skipping them; the
/// handler sees each event id once (duplicates are filtered here). Dispose to stop.
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
    private Task _loop = Task.CompletedTask;
    private long _cursor;

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

    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        _reference = _grains.CreateObjectReference<ILockEventObserver>(this);
        var subscription = await _feed.SubscribeAsync(_reference, _cursor).WaitAsync(cancellationToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _cursor, subscription.Cursor);
        _loop = RenewLoopAsync(subscription.RegisteredFor / 3);
    }

    async Task ILockEventObserver.OnEventsAsync(LockEvent[] events, long safeCursor)
    {
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

            if (safeCursor > Cursor)
            {
                Interlocked.Exchange(ref _cursor, safeCursor);
                _seen.RemoveWhere(id => id <= safeCursor);
            }
        }
        finally
        {
            _serial.Release();
        }
    }

    private async Task RenewLoopAsync(TimeSpan every)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, _time, _stop.Token).ConfigureAwait(false);
                await _feed.SubscribeAsync(_reference!, Cursor).WaitAsync(_stop.Token).ConfigureAwait(false);
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
    }
}
