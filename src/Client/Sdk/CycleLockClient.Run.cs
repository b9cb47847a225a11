namespace CycleLock.Client;

public sealed partial class CycleLockClient
{
    /// <summary>
    /// Acquires <paramref name="name"/> (waiting up to <see cref="RefreshingLockOptions.WaitTimeout"/>), runs
    /// <paramref name="work"/> with a token that is cancelled when ownership is lost (or on
    /// <see cref="RefreshingLockOptions.MaxHold"/> / heartbeat overrun, or when
    /// <paramref name="cancellationToken"/> is cancelled), releases, and returns what happened:
    /// <see cref="LockRunOutcome.Completed"/> (released as <c>completed</c>),
    /// <see cref="LockRunOutcome.NotAcquired"/>, <see cref="LockRunOutcome.Lost"/> (an infrastructure
    /// abort: burns no attempt) or <see cref="LockRunOutcome.Failed"/> (released as <c>failed</c>: burns
    /// one). Nothing the work throws escapes, and a lost lease never throws. Only the caller's own
    /// cancellation is thrown (as <see cref="OperationCanceledException"/>, after a <c>shutdown</c>
    /// release that burns nothing).
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

        var acquired = options.WaitTimeout > TimeSpan.Zero
            ? await AcquireAsync(name, ttl, options.WaitTimeout, cancellationToken).ConfigureAwait(false)
            : await TryAcquireAsync(name, ttl, cancellationToken).ConfigureAwait(false);
        if (!acquired.Acquired)
        {
            return LockRunResult<T>.Busy(acquired);
        }

        var handle = acquired.Handle!;
        string? overrun = null;
        using var overrunSource = new CancellationTokenSource();
        using var workSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, handle.LostToken, overrunSource.Token);
        void Overrun(string why)
        {
            Interlocked.CompareExchange(ref overrun, why, null);
            overrunSource.Cancel();
        }

        T? value = default;
        Exception? failure = null;
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
            try
            {
                value = await work(handle, workSource.Token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Every failure of the work becomes an outcome; nothing escapes unobserved.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = e;
            }
        }

        if (handle.State == LockHandleState.Lost)
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
            var reply = await ReleaseQuietlyAsync(handle, ReleaseReason.Failed).ConfigureAwait(false);
            if (reply?.Status == ReleaseStatus.Lost)
            {
                return LockRunResult<T>.Lost(reply.RecordedReason ?? "lost before the release", handle.Epoch);
            }

            return LockRunResult<T>.Failed(overrun is not null ? new TimeoutException(overrun, failure) : failure!, handle.Epoch);
        }

        var released = await ReleaseQuietlyAsync(handle, ReleaseReason.Completed).ConfigureAwait(false);
        return released?.Status == ReleaseStatus.Lost || handle.State == LockHandleState.Lost
            ? LockRunResult<T>.Lost(released?.RecordedReason ?? handle.EndReason ?? "lost before the release", handle.Epoch)
            : LockRunResult<T>.Completed(value!, handle.Epoch);
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
    }

    private static async Task<ReleaseReply?> ReleaseQuietlyAsync(LockHandle handle, ReleaseReason reason)
    {
        try
        {
            return await handle.ReleaseAsync(reason).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            return null; // every try failed: the grain ends the lease by stall
        }
        finally
        {
            await handle.DisposeAsync().ConfigureAwait(false);
        }
    }
}
