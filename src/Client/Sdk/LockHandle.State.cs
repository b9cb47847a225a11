namespace CycleLock.Client;

// State: Held ⇄ InJeopardy → Lost (or Released), moved forward under one lock; tokens and events raised outside it.
public sealed partial class LockHandle
{
    private void SetState(LockHandleState state)
    {
        lock (_gate)
        {
            if (_state == state || _state is LockHandleState.Lost or LockHandleState.Released)
            {
                return;
            }

            _state = state;
        }

        Raise(state);
    }

    private void MarkEnded(LockHandleState state, string reason, bool definite)
    {
        lock (_gate)
        {
            if (!MarkEndedLocked(state, reason, definite))
            {
                return;
            }
        }

        AfterEnded();
    }

    private bool MarkEndedLocked(LockHandleState state, string reason, bool definite)
    {
        if (_state is LockHandleState.Lost or LockHandleState.Released)
        {
            return false;
        }

        _state = state;
        _endReason = reason;
        _definiteLoss = definite;
        return true;
    }

    // Outside the state lock: cancels the tokens (running the holder's callbacks) and raises the change.
    // A throwing callback or handler never stops the handle's own work (keep-alive loop, release, timers).
    private void AfterEnded()
    {
        Guarded(_lost.Cancel);
        Guarded(_stop.Cancel);
        Raise(_state);
    }

    // Handlers are invoked one at a time and only for the state that is still current, so no listener sees
    // InJeopardy after Lost.
    private void Raise(LockHandleState state)
    {
        lock (_events)
        {
            if (_state != state)
            {
                return;
            }

            Guarded(() => StateChanged?.Invoke(this, state));
            if (state == LockHandleState.InJeopardy)
            {
                Guarded(() => Jeopardy?.Invoke(this, EventArgs.Empty));
            }
        }
    }

    private static void Guarded(Action action)
    {
        try
        {
            action();
        }
#pragma warning disable CA1031 // The holder's callbacks are its own; their failures must not break the handle.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
