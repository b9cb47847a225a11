using Microsoft.Extensions.Time.Testing;

namespace CycleLock.Tests.Sdk;

/// <summary>
/// A clock for a paused process: <see cref="Jump"/> moves the clock the SDK reads (monotonic and wall)
/// without firing a single timer, because timers run on an inner fake clock that only
/// <see cref="AdvanceTimers"/> moves.
/// </summary>
public sealed class HeldBackTimeProvider : TimeProvider
{
    private readonly FakeTimeProvider _timers = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
    private TimeSpan _jumped;

    public override long TimestampFrequency => _timers.TimestampFrequency;

    public override DateTimeOffset GetUtcNow() => _timers.GetUtcNow() + _jumped;

    public override long GetTimestamp() => _timers.GetTimestamp() + (long)(_jumped.TotalSeconds * _timers.TimestampFrequency);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        _timers.CreateTimer(callback, state, dueTime, period);

    /// <summary>The process was paused for <paramref name="by"/>: the clock moves, no timer fires.</summary>
    public void Jump(TimeSpan by) => _jumped += by;

    /// <summary>Time passes normally: the clock moves and due timers fire.</summary>
    public void AdvanceTimers(TimeSpan by) => _timers.Advance(by);
}
