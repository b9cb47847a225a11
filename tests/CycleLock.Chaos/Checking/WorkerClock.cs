namespace CycleLock.Chaos.Checking;

/// <summary>Maps one worker's UTC to the database clock through that worker's <c>clock_timestamp()</c> samples.</summary>
internal sealed class WorkerClock
{
    /// <summary>Drift allowance: 100 ppm of the distance to the sample used.</summary>
    private const double DriftAllowance = 100e-6;

    private readonly ClockSample[] _samples;
    private readonly TimeSpan _tolerance;

    public WorkerClock(IEnumerable<ClockSample> samples, TimeSpan tolerance)
    {
        _samples = [.. samples.OrderBy(s => s.WorkerUtc)];
        _tolerance = tolerance;
    }

    /// <summary>
    /// The database time of <paramref name="workerUtc"/> by the nearest sample (the earlier one on a tie), and its
    /// uncertainty: half that sample's round trip + the tolerance + the drift allowance over the distance to it.
    /// </summary>
    public (DateTimeOffset At, TimeSpan Uncertainty) ToDb(DateTimeOffset workerUtc)
    {
        var nearest = _samples.MinBy(s => (s.WorkerUtc - workerUtc).Duration())!;
        var distance = (nearest.WorkerUtc - workerUtc).Duration();
        var uncertainty = (nearest.RoundTrip / 2) + _tolerance + (distance * DriftAllowance);
        return (workerUtc + (nearest.DbUtc - nearest.WorkerUtc), uncertainty);
    }
}
