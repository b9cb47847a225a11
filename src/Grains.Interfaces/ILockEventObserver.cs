using Orleans.Concurrency;

namespace CycleLock;

/// <summary>A subscriber's endpoint for <see cref="ILockEventsGrain"/> (a client-side grain observer).</summary>
[Alias("CycleLock.ILockEventObserver")]
public interface ILockEventObserver : IGrainObserver
{
    /// <summary>New events, oldest first. <paramref name="safeCursor"/>: every event with an id up to it
    /// has been delivered to this subscriber; re-subscribe from it.</summary>
    [OneWay]
    [Alias("OnEvents")]
    Task OnEventsAsync(LockEvent[] events, long safeCursor);
}
