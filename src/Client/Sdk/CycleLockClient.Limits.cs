namespace CycleLock.Client;

public sealed partial class CycleLockClient
{
    // A failed read of the limits is tried again on an acquire at most this often.
    private static readonly TimeSpan LimitsRetryInterval = TimeSpan.FromSeconds(5);

    private readonly Lock _limitsGate = new();
    private Task<LockLimits>? _limitsRead;
    private long _limitsRetryAt;

    /// <summary>The deployment's TTL limits once read — when the host started (<c>AddCycleLockClient</c>), by
    /// <see cref="GetLimitsAsync"/>, or on the first acquire — else null. While known, an acquire with a TTL
    /// below <see cref="LockLimits.Floor"/> throws before anything is sent.</summary>
    public LockLimits? Limits => _limitsRead is { IsCompletedSuccessfully: true } read ? read.Result : null;

    /// <summary>Reads the deployment's TTL limits (the floor, what sets it and the settings behind it, the
    /// maximum) from any silo: one call without a database read, made once and kept; a read that failed is
    /// made again on the next call. Each read is bounded by <see cref="CycleLockClientOptions.AcquireCallTimeout"/>.</summary>
    public Task<LockLimits> GetLimitsAsync(CancellationToken cancellationToken = default)
    {
        Task<LockLimits> read;
        lock (_limitsGate)
        {
            if (_limitsRead is null || _limitsRead.IsFaulted || _limitsRead.IsCanceled)
            {
                _limitsRead = ReadLimitsAsync();
            }

            read = _limitsRead;
        }

        return read.WaitAsync(cancellationToken);
    }

    private async Task<LockLimits> ReadLimitsAsync()
    {
        using var timeout = new CancellationTokenSource(_options.AcquireCallTimeout);
        var limits = await _grains.GetGrain<ILockAdminGrain>(0).GetLimitsAsync(timeout.Token).ConfigureAwait(false);
        Log.LimitsRead(_logger, limits.Floor, limits.Cause, limits.MaxTtl);
        return limits;
    }

    // The first acquire of a client whose limits are not known yet: read them, refuse a TTL below the floor
    // (before the acquire is sent), then acquire. When they cannot be read the acquire goes ahead (the grain
    // enforces the same floor) and the read is tried again on a later acquire, at most every 5 s.
    private async Task<AcquireResult> AcquireAfterLimitsAsync(string name, TimeSpan ttl, CancellationToken cancellationToken)
    {
        await CheckFloorAsync(ttl, cancellationToken).ConfigureAwait(false);
        return await AcquireOnceAsync(name, ttl, Guid.Empty, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask CheckFloorAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        var limits = Limits;
        if (limits is null && _time.GetTimestamp() >= Interlocked.Read(ref _limitsRetryAt))
        {
            try
            {
                limits = await GetLimitsAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                Interlocked.Exchange(ref _limitsRetryAt, _time.GetTimestamp() + (long)(LimitsRetryInterval.TotalSeconds * _time.TimestampFrequency));
                Log.LimitsUnavailable(_logger, LimitsRetryInterval, e);
            }
        }

        if (limits is not null)
        {
            RequestRules.Ttl(ttl, limits, nameof(ttl));
        }
    }
}
