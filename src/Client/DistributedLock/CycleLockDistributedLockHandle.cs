using CycleLock.Client;
using Medallion.Threading;

namespace CycleLock.DistributedLock;

/// <summary>A held CycleLock lease behind the <see cref="IDistributedSynchronizationHandle"/> abstraction:
/// <see cref="HandleLostToken"/> is the lease's lost signal and disposing releases the lease.</summary>
public sealed class CycleLockDistributedLockHandle : IDistributedSynchronizationHandle
{
    private int _disposed;

    internal CycleLockDistributedLockHandle(LockHandle lease) => Lease = lease;

    /// <summary>The SDK's handle of the lease: its state, time left, <see cref="LockHandle.EnsureHeld"/>.</summary>
    public LockHandle Lease { get; }

    /// <summary>The fencing epoch of this grant: pass it with every write the lock protects (the epoch guard
    /// refuses writes of an older epoch).</summary>
    public long Epoch => Lease.Epoch;

    /// <summary>Cancelled when ownership is lost before the handle is disposed: the lease's time ran out (the
    /// holder could not keep it alive), an operator force-released it, or the cluster ended it. Throws
    /// <see cref="ObjectDisposedException"/> once the handle is disposed.</summary>
    public CancellationToken HandleLostToken
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return Lease.LostToken;
        }
    }

    /// <summary>Releases the lease (blocking); disposing again does nothing.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Releases the lease; disposing again does nothing. A lease already lost is not released twice.</summary>
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? Lease.DisposeAsync() : ValueTask.CompletedTask;
}
