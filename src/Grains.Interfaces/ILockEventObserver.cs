using Orleans.Concurrency;

namespace CycleLock;

/// <summary>A subscriber's endpoint for <see cref="ILockEventsGrain"/> (a client-side grain observer).</summary>
[Alias("CycleLock.ILockEventObserver")]
public interface ILockEventObserver : IGrainObserver
{
    /// <summary>New events, oldest first. <paramref name="safeCursor"/>: every event with an id up to it
    /// has been sent to this subscriber in this or an earlier batch of the same
    /// <paramref name="generation"/>. Batches are numbered 1, 2, … per generation: a gap in
    /// <paramref name="sequence"/> means a batch was lost — keep the old cursor and re-subscribe with it.</summary>
    [OneWay]
    [Alias("OnEvents")]
    Task OnEventsAsync(LockEvent[] events, long safeCursor, int generation, long sequence);
}
