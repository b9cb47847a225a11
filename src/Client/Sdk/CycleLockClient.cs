namespace CycleLock.Client;

/// <summary>
/// The worker SDK entry point. Acquires lock handles through the Orleans client; a lost acquire reply
/// is retried with the same holder id and key, and an acquire it gives up on is abandoned so a late
/// grant cannot pin the lock.
/// </summary>
public sealed class CycleLockClient
{
    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    private readonly CycleLockClientOptions _options;

    /// <summary>Creates the client over an Orleans grain factory (usually the <c>IClusterClient</c>).</summary>
    public CycleLockClient(IGrainFactory grains, CycleLockClientOptions? options = null, TimeProvider? time = null)
    {
        _grains = grains ?? throw new ArgumentNullException(nameof(grains));
        _options = options ?? new CycleLockClientOptions();
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The grain of a lock (the name is validated and NFC-normalised).</summary>
    public ICycleLockGrain Grain(string name) => _grains.GetGrain<ICycleLockGrain>(LockName.Normalize(name));

    private async Task AbandonAsync(ICycleLockGrain grain, AcquireRequest request)
    {
        try
        {
            using var abandon = new CancellationTokenSource(_options.AcquireCallTimeout);
            await grain.AbandonAsync(new AbandonRequest(request.HolderId, request.Key)).WaitAsync(abandon.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            // The holder id is never reused; an unabandoned grant ends by stall (no keep-alives come).
        }
    }

    /// <summary>Tries once to acquire <paramref name="name"/> for <paramref name="ttl"/> (default
    /// <see cref="CycleLockClientOptions.DefaultTtl"/>). Bad input throws <see cref="ArgumentException"/>.</summary>
    public async Task<AcquireResult> TryAcquireAsync(string name, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        var normalized = LockName.Normalize(name);
        var lease = ttl ?? _options.DefaultTtl;
        RequestRules.Ttl(lease, TimeSpan.FromTicks(1), nameof(ttl));
        var grain = _grains.GetGrain<ICycleLockGrain>(normalized);
        var request = new AcquireRequest(Guid.NewGuid(), _options.HolderLabel, LeaseKey.New(), lease);
        RequestRules.Acquire(request, TimeSpan.FromTicks(1));
        var validity = new LeaseValidity(_time, TimeSpan.Zero);
        Exception? last = null;
        for (var attempt = 0; attempt < _options.AcquireTries; attempt++)
        {
            var sent = validity.Mark();
            try
            {
                using var call = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                call.CancelAfter(_options.AcquireCallTimeout);
                var reply = await grain.TryAcquireAsync(request, call.Token).ConfigureAwait(false);
                if (reply.Status != AcquireStatus.Granted)
                {
                    if (last is not null)
                    {
                        // An earlier try may have been granted with its reply lost: do not leave that grant pinned.
                        await AbandonAsync(grain, request).ConfigureAwait(false);
                    }

                    return new AcquireResult(null, reply);
                }

                var handle = new LockHandle(grain, normalized, request.HolderId, request.Key, reply, sent, _time, _options);
                handle.Start();
                return new AcquireResult(handle, reply);
            }
            catch (Exception e) when (e is not ArgumentException)
            {
                // The reply may be lost with the grant made: retry with the same holder id and key
                // (idempotent), and abandon below if every try fails.
                last = e;
                if (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
            }
        }

        await AbandonAsync(grain, request).ConfigureAwait(false);
        throw new TimeoutException($"Acquire of lock {LockName.Quote(normalized)} got no reply after {_options.AcquireTries} tries; it was abandoned.", last);
    }
}
