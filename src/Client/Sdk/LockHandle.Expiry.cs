namespace CycleLock.Client;

// Expiry: ValidUntil decided from the clock on every member call, and a timer for holders that call nothing.
public sealed partial class LockHandle
{
    // Decided from the clock, not from a timer: any member call after ValidUntil finds the handle lost.
    private void CheckClock()
    {
        if (!_validity.IsValid && _state is LockHandleState.Held or LockHandleState.InJeopardy)
        {
            MarkEnded(LockHandleState.Lost, "valid-until passed", definite: false);
        }
    }

    // At most 500 ms ahead: the monotonic clock stops while a machine is suspended, so the wall-clock
    // deadline is checked at least that often.
    private void ArmExpiry()
    {
        var remaining = Min(_validity.Remaining, ExpiryCheckInterval);
        try
        {
            _expiry.Change(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void OnExpiryTimer()
    {
        CheckClock();
        if (_state is LockHandleState.Held or LockHandleState.InJeopardy)
        {
            ArmExpiry(); // not yet due, or extended meanwhile
        }
    }
}
