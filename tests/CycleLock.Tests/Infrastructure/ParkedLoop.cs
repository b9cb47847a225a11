using Microsoft.Extensions.Time.Testing;

namespace CycleLock.Tests.Infrastructure;

/// <summary>
/// Follows a background loop that sleeps on a <see cref="FakeTimeProvider"/> through its parking hook, so a
/// test advances the clock only once the loop is known to sleep until a given instant. A loop reads the
/// clock, then arms its delay relative to the clock's time at arming: a test that advances in between arms
/// the delay a whole step late, and on a fake clock nothing moves it again, so the awaited work never happens.
/// Code whose timers are armed synchronously by the test's own calls (the lock handle's expiry timer, the
/// lease core driven through <c>OnTimerAsync</c>) needs none of this.
/// </summary>
public sealed class ParkedLoop
{
    private readonly FakeTimeProvider _time;
    private readonly long _origin;
    private readonly Lock _gate = new();
    private readonly List<long> _parks = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Follows a loop on <paramref name="time"/>; instants are offsets from its time now.</summary>
    public ParkedLoop(FakeTimeProvider time)
    {
        _time = time;
        _origin = time.GetTimestamp();
    }

    /// <summary>The hook to install in the loop: called with the timestamp it sleeps until.</summary>
    public void OnParked(long until)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _parks.Add(until);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    /// <summary>Waits until the loop has parked until <paramref name="until"/> (an offset from this helper's
    /// start) and that is its latest park; fails naming what it saw after <paramref name="within"/>.</summary>
    public async Task UntilParkedAsync(TimeSpan until, string what, TimeSpan? within = null)
    {
        var expected = _origin + (long)(until.TotalSeconds * _time.TimestampFrequency);
        using var timeout = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_parks.Count > 0 && _parks[^1] == expected)
                {
                    return;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"{what}: the loop never parked until +{until.TotalMilliseconds} ms on the fake clock; parks seen at {Describe()}");
            }
        }
    }

    /// <summary>Waits until the loop sleeps until <paramref name="parkedUntil"/>, then advances the clock by <paramref name="by"/>.</summary>
    public async Task AdvanceAsync(TimeSpan parkedUntil, TimeSpan by, string what)
    {
        await UntilParkedAsync(parkedUntil, what);
        _time.Advance(by);
    }

    private string Describe()
    {
        lock (_gate)
        {
            return _parks.Count == 0
                ? "none"
                : string.Join(", ", _parks.Select(p => $"+{(p - _origin) * 1000.0 / _time.TimestampFrequency} ms"));
        }
    }
}
