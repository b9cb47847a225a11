using System.Diagnostics;
using CycleLock.Client;
using Medallion.Threading;

namespace CycleLock.DistributedLock;

/// <summary>
/// One CycleLock lock behind the <see cref="IDistributedLock"/> abstraction. Timeouts follow the abstraction:
/// <c>TryAcquire</c>'s default of zero tries once; <c>Acquire</c>'s null (or <see cref="Timeout.InfiniteTimeSpan"/>)
/// waits until granted or cancelled; any other negative timeout is an <see cref="ArgumentOutOfRangeException"/>.
/// A wait joins the lock's fair waiting queue (no polling). A call with a finite timeout returns within that timeout
/// plus one call timeout (<see cref="CycleLockClientOptions.AcquireCallTimeout"/>) even when the cluster does not
/// answer, then throws <see cref="TimeoutException"/> saying so; a wait without a limit outlasts an outage. Not reentrant: a second acquire of a name this
/// process holds is another holder's request, refused by <c>TryAcquire</c> and queued by <c>Acquire</c> until
/// the first handle is disposed. A dead lock (stalled too often; an operator must reset it) throws
/// <see cref="InvalidOperationException"/> rather than wait forever.
/// </summary>
public sealed class CycleLockDistributedLock : IDistributedLock
{
    /// <summary>The longest single waiting acquire; a longer or infinite wait is made of several.</summary>
    private static readonly TimeSpan MaxWait = RequestRules.MaxTtl;

    private static readonly TimeSpan QueueFullPause = TimeSpan.FromMilliseconds(250);

    private static readonly TimeSpan UnansweredPause = TimeSpan.FromSeconds(1);

    private readonly CycleLockClient _client;

    internal CycleLockDistributedLock(CycleLockClient client, string name, TimeSpan? ttl)
    {
        _client = client;
        Name = name;
        Ttl = ttl;
    }

    /// <summary>The lock's name (NFC-normalised).</summary>
    public string Name { get; }

    /// <summary>The lease TTL; null: the client's default TTL.</summary>
    public TimeSpan? Ttl { get; }

    /// <inheritdoc cref="TryAcquireAsync"/>
    public CycleLockDistributedLockHandle? TryAcquire(TimeSpan timeout = default, CancellationToken cancellationToken = default)
    {
        CheckTimeout(timeout);

        // On the pool: a caller's synchronization context (UI, classic ASP.NET) must not be needed to finish.
        return Task.Run(() => AcquireCoreAsync(timeout, cancellationToken).AsTask(), CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <inheritdoc cref="AcquireAsync"/>
    public CycleLockDistributedLockHandle Acquire(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        CheckTimeout(timeout ?? Timeout.InfiniteTimeSpan);
        return Task.Run(() => AcquireAsync(timeout, cancellationToken).AsTask(), CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>Acquires the lock within <paramref name="timeout"/> (zero: one try); null when another holder
    /// has it at the timeout.</summary>
    public ValueTask<CycleLockDistributedLockHandle?> TryAcquireAsync(TimeSpan timeout = default, CancellationToken cancellationToken = default)
    {
        CheckTimeout(timeout);
        return AcquireCoreAsync(timeout, cancellationToken);
    }

    /// <summary>Acquires the lock within <paramref name="timeout"/> (null: without a limit); throws
    /// <see cref="TimeoutException"/> when another holder still has it at the timeout.</summary>
    public async ValueTask<CycleLockDistributedLockHandle> AcquireAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? Timeout.InfiniteTimeSpan;
        CheckTimeout(limit);
        return await AcquireCoreAsync(limit, cancellationToken).ConfigureAwait(false)
            ?? throw new TimeoutException($"Lock {LockName.Quote(Name)} was not acquired within {limit}: another holder has it.");
    }

    /// <inheritdoc />
    IDistributedSynchronizationHandle? IDistributedLock.TryAcquire(TimeSpan timeout, CancellationToken cancellationToken) => TryAcquire(timeout, cancellationToken);

    /// <inheritdoc />
    IDistributedSynchronizationHandle IDistributedLock.Acquire(TimeSpan? timeout, CancellationToken cancellationToken) => Acquire(timeout, cancellationToken);

    /// <inheritdoc />
    async ValueTask<IDistributedSynchronizationHandle?> IDistributedLock.TryAcquireAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        await TryAcquireAsync(timeout, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    async ValueTask<IDistributedSynchronizationHandle> IDistributedLock.AcquireAsync(TimeSpan? timeout, CancellationToken cancellationToken) =>
        await AcquireAsync(timeout, cancellationToken).ConfigureAwait(false);

    private static void CheckTimeout(TimeSpan timeout)
    {
        if (timeout != Timeout.InfiniteTimeSpan && (timeout < TimeSpan.Zero || timeout.TotalMilliseconds > int.MaxValue))
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, $"Timeout {timeout} is out of range (rule: zero or more, at most {TimeSpan.FromMilliseconds(int.MaxValue)}, or Timeout.InfiniteTimeSpan to wait without a limit).");
        }
    }

    private async ValueTask<CycleLockDistributedLockHandle?> AcquireCoreAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var ttl = Ttl ?? _client.Options.DefaultTtl;
        var infinite = timeout == Timeout.InfiniteTimeSpan;

        // A finite call takes at most its timeout plus one call timeout (the last answer may be in flight at the
        // deadline), even when the cluster does not answer: the SDK's own retries would otherwise stretch a one-shot try
        // to tens of seconds. A call cut short here is abandoned by the SDK, so a late grant cannot pin the lock.
        var budget = infinite ? Timeout.InfiniteTimeSpan : timeout + _client.Options.AcquireCallTimeout;
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!infinite)
        {
            bounded.CancelAfter(budget);
        }

        try
        {
            if (timeout == TimeSpan.Zero)
            {
                return Handle(await WithinAsync(_client.TryAcquireAsync(Name, ttl, bounded.Token), bounded.Token).ConfigureAwait(false));
            }

            var started = Stopwatch.GetTimestamp();
            while (true)
            {
                var left = infinite ? MaxWait : timeout - Stopwatch.GetElapsedTime(started);
                AcquireResult result;
                try
                {
                    result = await WithinAsync(_client.AcquireAsync(Name, ttl, left <= TimeSpan.Zero ? TimeSpan.Zero : left < MaxWait ? left : MaxWait, bounded.Token), bounded.Token).ConfigureAwait(false);
                }
                catch (TimeoutException) when (infinite && !cancellationToken.IsCancellationRequested)
                {
                    // No reply from the cluster (an outage, a failover): a wait without a limit outlasts it.
                    await Task.Delay(UnansweredPause, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (Handle(result) is { } handle)
                {
                    return handle;
                }

                if (!infinite && Stopwatch.GetElapsedTime(started) >= timeout)
                {
                    return null;
                }

                if (result.Outcome == AcquireOutcome.QueueFull)
                {
                    // The lock has the most waiters it keeps: try again shortly, within the timeout.
                    var pause = infinite ? QueueFullPause : Min(QueueFullPause, timeout - Stopwatch.GetElapsedTime(started));
                    await Task.Delay(pause > TimeSpan.Zero ? pause : TimeSpan.Zero, bounded.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && bounded.IsCancellationRequested)
        {
            throw new TimeoutException($"Lock {LockName.Quote(Name)}: no answer from the cluster within {budget} (rule: a call takes at most its timeout, {timeout}, plus one call timeout, CycleLock:Client:AcquireCallTimeout); the acquire is abandoned, and a grant that arrives later is released.");
        }
    }

    /// <summary>The SDK's answer, or a cancellation as soon as <paramref name="token"/> fires: the SDK abandons the
    /// cancelled acquire on its own (which may wait for a grain that does not answer), and a grant that still arrives
    /// after the caller was answered is released.</summary>
    private static async Task<AcquireResult> WithinAsync(Task<AcquireResult> acquire, CancellationToken token)
    {
        try
        {
            return await acquire.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!acquire.IsCompleted)
        {
            _ = acquire.ContinueWith(
                static late => late.IsCompletedSuccessfully && late.Result.Handle is { } handle ? handle.DisposeAsync().AsTask() : Task.CompletedTask,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default).Unwrap().ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            throw;
        }
    }

    private CycleLockDistributedLockHandle? Handle(AcquireResult result) => result.Outcome switch
    {
        AcquireOutcome.Acquired => new CycleLockDistributedLockHandle(result.Handle!),
        AcquireOutcome.Dead => throw new InvalidOperationException($"Lock {LockName.Quote(Name)} is dead (it stalled too often) and grants nothing until an operator resets it (cyclelock reset)."),
        _ => null,
    };

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
