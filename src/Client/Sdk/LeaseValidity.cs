namespace CycleLock.Client;

/// <summary>
/// How long a holder may act (DESIGN §5): ValidUntil = max over held replies for its epoch of
/// (send time + valid-for) − m_w, on the monotonic clock and, separately, on the wall clock (a suspended
/// machine's monotonic clock stops); the holder is valid only while both are in the future. Never
/// send + TTL. Pure and driven by <see cref="TimeProvider"/>.
/// </summary>
public sealed class LeaseValidity
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _margin;
    private long _untilTimestamp;
    private DateTimeOffset _untilWall = DateTimeOffset.MinValue;

    /// <summary>Creates a tracker with SDK margin <paramref name="sdkMargin"/> (m_w = m/2).</summary>
    public LeaseValidity(TimeProvider time, TimeSpan sdkMargin)
    {
        _time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentOutOfRangeException.ThrowIfLessThan(sdkMargin, TimeSpan.Zero);
        _margin = sdkMargin;
        _untilTimestamp = long.MinValue;
    }

    /// <summary>The SDK margin m_w.</summary>
    public TimeSpan Margin => _margin;

    /// <summary>A send instant: the monotonic timestamp and the wall time, taken just before a request is sent.</summary>
    public (long Timestamp, DateTimeOffset Wall) Mark() => (_time.GetTimestamp(), _time.GetUtcNow());

    /// <summary>Extends validity with a "held" reply to a request sent at <paramref name="sent"/>.</summary>
    public void OnHeld((long Timestamp, DateTimeOffset Wall) sent, TimeSpan validFor)
    {
        var extension = validFor - _margin;
        if (extension <= TimeSpan.Zero)
        {
            return;
        }

        var until = sent.Timestamp + (long)(extension.TotalSeconds * _time.TimestampFrequency);
        if (until > _untilTimestamp)
        {
            _untilTimestamp = until;
        }

        var wall = sent.Wall + extension;
        if (wall > _untilWall)
        {
            _untilWall = wall;
        }
    }

    /// <summary>Time left: the smaller of the monotonic and wall-clock remainders (zero or negative when expired).</summary>
    public TimeSpan Remaining
    {
        get
        {
            if (_untilTimestamp == long.MinValue)
            {
                return TimeSpan.Zero;
            }

            var now = _time.GetTimestamp();
            var mono = TimeSpan.FromSeconds((_untilTimestamp - now) / (double)_time.TimestampFrequency);
            var wall = _untilWall - _time.GetUtcNow();
            return mono < wall ? mono : wall;
        }
    }

    /// <summary>True while both clocks are before ValidUntil.</summary>
    public bool IsValid => Remaining > TimeSpan.Zero;

    /// <summary>ValidUntil as a wall-clock instant (for display; decisions use <see cref="Remaining"/>).</summary>
    public DateTimeOffset ValidUntil => _untilTimestamp == long.MinValue ? DateTimeOffset.MinValue : _time.GetUtcNow() + Remaining;
}
