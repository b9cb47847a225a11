using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace CycleLock.Persistence;

/// <summary>
/// Gathers one kind of lease write (renewals or adoptions) from every grain of a silo and sends it as one
/// statement per flush (DESIGN §11). An entry is due <c>lead</c> after it was handed in; the queue flushes
/// when its most urgent entry falls due, taking every entry pending at that moment (at most
/// <c>maxBatch</c>, one per lock name: an exact duplicate shares its twin's answer, a different request
/// for the same name waits for the next flush). At most <c>maxInFlight</c> flushes are in flight at a time
/// (one for renewals); what arrives while they all are goes in the next. The batch statement runs through the resilience pipeline (the store's batch method),
/// so a transient failure of the whole batch is retried there; a permanent error falls back to one
/// statement per entry, so one poisoned row fails only its own entry. An entry whose caller gives up is
/// answered cancelled at once; the batch is cancelled only when every caller in it gave up.
/// </summary>
internal sealed partial class CoalescingQueue<TInput> : IAsyncDisposable
    where TInput : class
{
    private readonly string _kind;
    private readonly Func<TInput, string> _nameOf;
    private readonly Func<IReadOnlyList<TInput>, TimeSpan, CancellationToken, Task<IReadOnlyList<StoreResult>>> _batch;
    private readonly Func<TInput, TimeSpan> _attemptTimeoutOf;
    private readonly Func<TInput, CancellationToken, Task<StoreResult>> _single;
    private readonly long _leadTicks;
    private readonly int _maxBatch;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CycleLockMetrics _metrics;
    private readonly Lock _gate = new();
    private readonly List<Entry> _pending = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _slots;
    private readonly int _maxInFlight;
    private readonly Task _loop;
    private bool _stopped;

    public CoalescingQueue(
        string kind,
        Func<TInput, string> nameOf,
        Func<IReadOnlyList<TInput>, TimeSpan, CancellationToken, Task<IReadOnlyList<StoreResult>>> batch,
        Func<TInput, TimeSpan> attemptTimeoutOf,
        Func<TInput, CancellationToken, Task<StoreResult>> single,
        TimeSpan lead,
        int maxBatch,
        TimeProvider time,
        ILogger logger,
        CycleLockMetrics? metrics = null,
        int maxInFlight = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lead, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 1);
        _maxInFlight = maxInFlight;
        _slots = new SemaphoreSlim(maxInFlight);
        _kind = kind;
        _nameOf = nameOf;
        _batch = batch;
        _attemptTimeoutOf = attemptTimeoutOf;
        _single = single;
        _leadTicks = (long)(lead.TotalSeconds * time.TimestampFrequency);
        _maxBatch = maxBatch;
        _time = time;
        _logger = logger;
        _metrics = metrics ?? CycleLockMetrics.Unhosted;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Test hook, null in production: called with the timestamp the loop sleeps until, once its sleep
    /// is armed and no wake is pending. A test on a fake clock advances only after it: advancing while the loop
    /// is between reading the clock and arming its delay arms that delay late, and then it never fires.</summary>
    internal Action<long>? Parked { get; set; }

    /// <summary>Hands in one write; answered when the flush that carries it is done. <paramref name="early"/>:
    /// handed in the lead before it is due (a scheduled renewal); otherwise it is due now (a retry).</summary>
    public Task<StoreResult> EnqueueAsync(TInput input, bool early, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<StoreResult>(cancellationToken);
        }

        var entry = new Entry(input, _nameOf(input), _time.GetTimestamp() + (early ? _leadTicks : 0), cancellationToken);
        bool wake;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            wake = _pending.Count == 0 || !early;
            _pending.Add(entry);
        }

        if (wake)
        {
            _wake.Release();
        }

        return entry.Task;
    }

    public async ValueTask DisposeAsync()
    {
        List<Entry> left;
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            left = [.. _pending];
            _pending.Clear();
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var entry in left)
        {
            entry.Fail(new ObjectDisposedException(GetType().Name, "The silo is stopping; the write was not sent."));
        }

        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        // Every flush in flight answers its callers (cancelled, as the silo stops) before the queue is gone.
        for (var i = 0; i < _maxInFlight; i++)
        {
            await _slots.WaitAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    private async Task LoopAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            long? due;
            lock (_gate)
            {
                _pending.RemoveAll(e => e.Task.IsCompleted);
                due = _pending.Count > 0 ? _pending.Min(e => e.Due) : null;
            }

            if (due is not { } earliest)
            {
                await _wake.WaitAsync(stopping).ConfigureAwait(false);
                continue;
            }

            var now = _time.GetTimestamp();
            if (earliest > now)
            {
                // Sleep until the most urgent entry is due, or until an entry due sooner (a retry) arrives.
                using var sooner = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                var wait = Task.Delay(TimeSpan.FromSeconds((earliest - now) / (double)_time.TimestampFrequency), _time, sooner.Token);
                var woken = _wake.WaitAsync(sooner.Token);
                if (Parked is { } parked && !wait.IsCompleted && !woken.IsCompleted)
                {
                    parked(earliest);
                }

                await Task.WhenAny(wait, woken).ConfigureAwait(false);
                await sooner.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(wait, woken).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
                stopping.ThrowIfCancellationRequested();
                continue;
            }

            // A flush slot; while every slot is taken, what arrives gathers for the next flush.
            await _slots.WaitAsync(stopping).ConfigureAwait(false);
            var batch = Take();
            if (batch.Count == 0)
            {
                _slots.Release();
                continue;
            }

            _ = RunFlushAsync(batch, stopping);
        }
    }

    private async Task RunFlushAsync(List<Group> batch, CancellationToken stopping)
    {
        try
        {
            await FlushAsync(batch, stopping).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // FlushAsync answers every entry on every path; this guards against a bug stopping the queue.
            LogLoopFault(_logger, _kind, e);
        }
        finally
        {
            _slots.Release();
        }
    }

    // Every pending entry, one group per name: exact duplicates join their twin's group; a different
    // request for a name already taken stays pending for the next flush.
    private List<Group> Take()
    {
        var groups = new List<Group>();
        var byName = new Dictionary<string, Group>(StringComparer.Ordinal);
        lock (_gate)
        {
            _pending.RemoveAll(entry =>
            {
                if (entry.Task.IsCompleted)
                {
                    return true;
                }

                if (byName.TryGetValue(entry.Name, out var group))
                {
                    if (!group.Input.Equals(entry.Input))
                    {
                        return false;
                    }

                    group.Entries.Add(entry);
                    return true;
                }

                if (groups.Count >= _maxBatch)
                {
                    return false;
                }

                group = new Group(entry.Input, entry.Name, [entry]);
                byName.Add(entry.Name, group);
                groups.Add(group);
                return true;
            });
        }

        return groups;
    }

    private async Task FlushAsync(List<Group> groups, CancellationToken stopping)
    {
        using var batchCancel = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var live = new StrongBox<int>(groups.Sum(g => g.Entries.Count));
        foreach (var entry in groups.SelectMany(g => g.Entries))
        {
            // The batch is abandoned only when every caller in it has given up (or been answered).
            _ = entry.Task.ContinueWith(
                static (_, state) =>
                {
                    var (counter, cancel) = ((StrongBox<int>, CancellationTokenSource))state!;
                    if (Interlocked.Decrement(ref counter.Value) == 0)
                    {
                        try
                        {
                            cancel.Cancel();
                        }
                        catch (ObjectDisposedException)
                        {
                        }
                    }
                },
                (live, batchCancel),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        var started = CycleLockMetrics.Now();
        try
        {
            var results = await _batch([.. groups.Select(g => g.Input)], groups.Min(g => _attemptTimeoutOf(g.Input)), batchCancel.Token).ConfigureAwait(false);
            _metrics.Flushed(_kind, groups.Count, CycleLockMetrics.Since(started));
            for (var i = 0; i < groups.Count; i++)
            {
                groups[i].Complete(results[i]);
            }
        }
        catch (Exception e) when (groups.Count > 1 && !batchCancel.Token.IsCancellationRequested && IsRowLevel(e))
        {
            // A permanent error may be one row's (a constraint, a trigger): one statement per entry, so
            // only that entry fails. Name order, like the batch.
            _metrics.FallBack(_kind);
            LogFallback(_logger, _kind, groups.Count, e.GetType().Name, e.Message);
            foreach (var group in groups.OrderBy(g => g.Name, StringComparer.Ordinal))
            {
                if (group.AllGaveUp)
                {
                    continue;
                }

                try
                {
                    group.Complete(await _single(group.Input, batchCancel.Token).ConfigureAwait(false));
                }
                catch (Exception single)
                {
                    group.Fail(single);
                }
            }
        }
        catch (Exception e)
        {
            foreach (var group in groups)
            {
                group.Fail(e);
            }
        }
    }

    // Only errors a single row can cause fall back: data exceptions (22), integrity violations (23) and
    // raised exceptions (P0, e.g. a trigger). Anything else (timeouts, authentication, a read-only
    // standby, unknown) would fail every row alike, so it fails the batch at once instead of sending one
    // statement per lease behind it.
    private static bool IsRowLevel(Exception e) =>
        e is Npgsql.PostgresException { SqlState: var state } && (state.StartsWith("22", StringComparison.Ordinal) || state.StartsWith("23", StringComparison.Ordinal) || state.StartsWith("P0", StringComparison.Ordinal));

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Kind} coalescer's loop caught an unexpected error; it goes on")]
    private static partial void LogLoopFault(ILogger logger, string kind, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A coalesced {Kind} of {Count} leases failed permanently ({Error}: {Detail}); sending each on its own")]
    private static partial void LogFallback(ILogger logger, string kind, int count, string error, string detail);

    private sealed class Entry
    {
        private readonly TaskCompletionSource<StoreResult> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenRegistration _registration;

        public Entry(TInput input, string name, long due, CancellationToken cancellationToken)
        {
            Input = input;
            Name = name;
            Due = due;
            _registration = cancellationToken.Register(static (state, token) => ((Entry)state!)._answer.TrySetCanceled(token), this);
        }

        public TInput Input { get; }

        public string Name { get; }

        public long Due { get; }

        public Task<StoreResult> Task => _answer.Task;

        public void Complete(StoreResult result)
        {
            _answer.TrySetResult(result);
            _registration.Dispose();
        }

        public void Fail(Exception exception)
        {
            _answer.TrySetException(exception);
            _registration.Dispose();
        }
    }

    private sealed record Group(TInput Input, string Name, List<Entry> Entries)
    {
        public bool AllGaveUp => Entries.TrueForAll(e => e.Task.IsCompleted);

        public void Complete(StoreResult result) => Entries.ForEach(e => e.Complete(result));

        public void Fail(Exception exception) => Entries.ForEach(e => e.Fail(exception));
    }
}
