namespace CycleLock.Client;

/// <summary>The client-side endpoint a waiting acquire registers: offers arrive one-way and wake the waiter.</summary>
internal sealed class LockWaiter : ILockWaiter
{
    private readonly Lock _gate = new();
    private TaskCompletionSource<LockOffer> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<LockOffer> NextAsync()
    {
        lock (_gate)
        {
            return _next.Task;
        }
    }

    public void Consume()
    {
        lock (_gate)
        {
            if (_next.Task.IsCompleted)
            {
                _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public Task OfferAsync(LockOffer offer)
    {
        lock (_gate)
        {
            _next.TrySetResult(offer);
        }

        return Task.CompletedTask;
    }
}
