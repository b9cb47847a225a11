using CycleLock.Client;
using Medallion.Threading;

namespace CycleLock.DistributedLock;

/// <summary>A held CycleLock lease behind the <see cref="IDistributedSynchronizationHandle"/> abstraction:
/// <see cref="HandleLostToken"/> is the lease's lost signal and disposing releases the lease.</summary>
public sealed class CycleLockDistributedLockHandle : IDistributedSynchronizationHandle
{
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenRegistration _link;
    private int _disposed;

    internal CycleLockDistributedLockHandle(LockHandle lease)
    {
        Lease = lease;

        // The abstraction's token signals a loss before the handle is disposed, never the release that disposing
        // is: its own source, unlinked from the lease before the release.
        _link = lease.LostToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _lost);
    }

    /// <summary>The SDK's handle of the lease: its state, time left, <see cref="LockHandle.EnsureHeld"/>.</summary>
    public LockHandle Lease { get; }

    /// <summary>The fencing epoch of this grant: pass it with every write the lock protects (the epoch guard
    /// refuses writes of an older epoch).</summary>
    public long Epoch => Lease.Epoch;

    /// <summary>Cancelled when ownership is lost before the handle is disposed: the lease's time ran out (the
    /// holder could not keep it alive), an operator force-released it, or the cluster ended it — not by the release
    /// that disposing is. Throws
    /// <see cref="ObjectDisposedException"/> once the handle is disposed.</summary>
    public CancellationToken HandleLostToken
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return _lost.Token;
        }
    }

    /// <summary>Releases the lease (blocking, on the thread pool: a caller's synchronization context is not needed to
    /// finish); disposing again does nothing.</summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            Task.Run(() => DisposeAsync().AsTask()).GetAwaiter().GetResult();
        }
    }

    /// <summary>Releases the lease; disposing again does nothing. A lease already lost is not released twice.
    /// <see cref="HandleLostToken"/> does not fire for the release.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _link.DisposeAsync().ConfigureAwait(false);
            await Lease.DisposeAsync().ConfigureAwait(false);
        }
    }
}
