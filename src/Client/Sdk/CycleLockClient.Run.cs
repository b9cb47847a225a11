namespace CycleLock.Client;

public sealed partial class CycleLockClient
{
    /// <summary>The same as <see cref="WithRefreshingLockAsync{T}"/> for work that returns no value (a job's
    /// <c>Task</c>); the result's <see cref="LockRunResult{T}.Value"/> is true when the work ran to completion.</summary>
    public Task<LockRunResult<bool>> WithRefreshingLockAsync(
        string name,
        TimeSpan ttl,
        Func<LockHandle, CancellationToken, Task> work,
        RefreshingLockOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return WithRefreshingLockAsync(
            name,
            ttl,
            async (lease, ct) =>
            {
                await work(lease, ct).ConfigureAwait(false);
                return true;
            },
            options,
            cancellationToken);
    }

    /// <summary>
    /// Acquires <paramref name="name"/> (waiting up to <see cref="RefreshingLockOptions.WaitTimeout"/>), runs
    /// <paramref name="work"/> with a token that is cancelled when ownership is lost (or on
    /// <see cref="RefreshingLockOptions.MaxHold"/> / heartbeat overrun, or when
    /// <paramref name="cancellationToken"/> is cancelled), releases, and returns what happened:
    /// <see cref="LockRunOutcome.Completed"/> (released as <c>completed</c>),
    /// <see cref="LockRunOutcome.NotAcquired"/>, <see cref="LockRunOutcome.Lost"/> (an infrastructure
    /// abort: burns no attempt) or <see cref="LockRunOutcome.Failed"/> (released as <c>failed</c>: burns
    /// one). Nothing the work throws escapes, and a lost lease or an unreachable cluster never throws. Only
    /// the caller's own cancellation is thrown (as <see cref="OperationCanceledException"/>, after a
    /// <c>shutdown</c> release that burns nothing). The outcome follows what the release found: if the
    /// lease had already ended (a stall, a force-release), the run is Lost, since nothing was burned.
    /// </summary>
    public async Task<LockRunResult<T>> WithRefreshingLockAsync<T>(
        string name,
        TimeSpan ttl,
        Func<LockHandle, CancellationToken, Task<T>> work,
        RefreshingLockOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        Check(name, ttl);
        ArgumentNullException.ThrowIfNull(work);
        options ??= new RefreshingLockOptions();
        CheckRunOptions(options);
        cancellationToken.ThrowIfCancellationRequested();

        AcquireResult acquired;
        try
        {
            acquired = options.WaitTimeout > TimeSpan.Zero
                ? await AcquireAsync(name, ttl, options.WaitTimeout, cancellationToken).ConfigureAwait(false)
                : await TryAcquireAsync(name, ttl, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            // No try got a reply; the acquire was abandoned, so a late grant cannot pin the lock.
            return LockRunResult<T>.Busy(AcquireResult.NoReply(e));
        }

        if (!acquired.Acquired)
        {
            return LockRunResult<T>.Busy(acquired);
        }

        var handle = acquired.Handle!;
        string? overrun = null;
        // Not disposed: a work left running after an overrun may still observe its token.
        var overrunSource = new CancellationTokenSource();
        using var overrunDeadline = new CancellationTokenSource();
        var workSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, handle.LostToken, overrunSource.Token);
        void Overrun(string why)
        {
            if (Interlocked.CompareExchange(ref overrun, why, null) is null)
            {
                overrunSource.Cancel();
                overrunDeadline.CancelAfter(options.OverrunGrace);
            }
        }

        T? value = default;
        Exception? failure = null;
        var abandoned = false;
        {
            using var maxHold = options.MaxHold is { } hold
                ? _time.CreateTimer(_ => Overrun($"the work held lock {LockName.Quote(handle.Name)} longer than maxHold {hold}"), null, hold, Timeout.InfiniteTimeSpan)
                : null;
            var every = options.HeartbeatTimeout / 4;
            using var heartbeat = options.HeartbeatTimeout is { } timeout
                ? _time.CreateTimer(_ =>
                {
                    if (handle.SinceHeartbeat > timeout)
                    {
                        Overrun($"the work made no progress (no heartbeat) for more than {timeout}");
                    }
                }, null, every!.Value, every.Value)
                : null;
            var workTask = RunWorkAsync(work, handle, workSource.Token);

            // A hung job that ignores its token must not pin the lock: after an overrun plus the grace, stop
            // waiting for it, release, and report the failure (the handle is no longer the holder).
            var done = await Task.WhenAny(workTask, Task.Delay(Timeout.Infinite, overrunDeadline.Token)).ConfigureAwait(false);
            if (done == workTask)
            {
                (value, failure) = await workTask.ConfigureAwait(false);
            }
            else
            {
                abandoned = true;
            }
        }

        if (handle.State == LockHandleState.Lost && overrun is null)
        {
            var reason = handle.EndReason ?? "lost";
            await ReleaseQuietlyAsync(handle, ReleaseReason.LeaseLost).ConfigureAwait(false);
            return LockRunResult<T>.Lost(reason, handle.Epoch);
        }

        if (failure is not null && cancellationToken.IsCancellationRequested && overrun is null)
        {
            await ReleaseQuietlyAsync(handle, ReleaseReason.Shutdown).ConfigureAwait(false);
            throw new OperationCanceledException($"The work on lock {LockName.Quote(handle.Name)} was cancelled by the caller; released as shutdown.", failure, cancellationToken);
        }

        if (overrun is not null || failure is not null)
        {
            var error = overrun is not null
                ? new TimeoutException(abandoned ? $"{overrun}; the work ignored cancellation for {options.OverrunGrace} and was left running without the lock" : overrun, failure)
                : failure!;
            var (reply, releaseError) = await ReleaseQuietlyAsync(handle, ReleaseReason.Failed).ConfigureAwait(false);
            return Decide(handle, reply, releaseError, ReleaseReason.Failed, () => LockRunResult<T>.Failed(error, handle.Epoch));
        }

        var (released, completeError) = await ReleaseQuietlyAsync(handle, ReleaseReason.Completed).ConfigureAwait(false);
        return Decide(handle, released, completeError, ReleaseReason.Completed, () => LockRunResult<T>.Completed(value!, handle.Epoch));
    }

    // The outcome follows what the release found: a lease that was already gone (a stall, a force-release,
    // a definite loss) is Lost whatever the work did, because that release burned nothing.
    private static LockRunResult<T> Decide<T>(LockHandle handle, ReleaseReply? reply, Exception? releaseError, ReleaseReason asked, Func<LockRunResult<T>> ours)
    {
        if (releaseError is not null)
        {
            // Every try failed: the grain ends the lease by stall, which burns no attempt.
            return asked == ReleaseReason.Completed
                ? ours() with { ReleaseError = releaseError }
                : LockRunResult<T>.Lost("the release failed; the lease ends by stall (no attempt burned)", handle.Epoch) with { ReleaseError = releaseError };
        }

        var burned = reply is not null && (reply.Status == ReleaseStatus.Released
            || (reply.Status == ReleaseStatus.AlreadyReleased && reply.RecordedReason == asked.ToText()));
        return burned && handle.State == LockHandleState.Released
            ? ours()
            : LockRunResult<T>.Lost(reply?.RecordedReason ?? handle.EndReason ?? "lost before the release", handle.Epoch);
    }

    private static async Task<(T? Value, Exception? Failure)> RunWorkAsync<T>(Func<LockHandle, CancellationToken, Task<T>> work, LockHandle handle, CancellationToken token)
    {
        try
        {
            return (await work(handle, token).ConfigureAwait(false), null);
        }
#pragma warning disable CA1031 // Every failure of the work becomes an outcome; nothing escapes unobserved.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return (default, e);
        }
    }

    private static void CheckRunOptions(RefreshingLockOptions options)
    {
        if (options.WaitTimeout < TimeSpan.Zero || options.WaitTimeout > RequestRules.MaxTtl)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.WaitTimeout, $"WaitTimeout {options.WaitTimeout} is out of range (rule: 0 to {RequestRules.MaxTtl}).");
        }

        if (options.MaxHold is { } hold && (hold <= TimeSpan.Zero || hold > TimeSpan.FromDays(365)))
        {
            throw new ArgumentOutOfRangeException(nameof(options), hold, $"MaxHold {hold} is out of range (rule: more than 0, at most 365 days).");
        }

        if (options.HeartbeatTimeout is { } beat && (beat < TimeSpan.FromMilliseconds(10) || beat > TimeSpan.FromDays(1)))
        {
            throw new ArgumentOutOfRangeException(nameof(options), beat, $"HeartbeatTimeout {beat} is out of range (rule: 10 ms to 1 day).");
        }

        if (options.OverrunGrace < TimeSpan.Zero || options.OverrunGrace > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.OverrunGrace, $"OverrunGrace {options.OverrunGrace} is out of range (rule: 0 to 10 min).");
        }
    }

    private static async Task<(ReleaseReply? Reply, Exception? Error)> ReleaseQuietlyAsync(LockHandle handle, ReleaseReason reason)
    {
        try
        {
            return (await handle.ReleaseAsync(reason).ConfigureAwait(false), null);
        }
        catch (InvalidOperationException e)
        {
            return (null, e); // every try failed: the grain ends the lease by stall
        }
        finally
        {
            await handle.DisposeAsync().ConfigureAwait(false);
        }
    }
}
