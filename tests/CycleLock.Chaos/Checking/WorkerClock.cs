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
    /// The database time of <paramref name="workerUtc"/> by the sample that gives the smallest uncertainty — half
    /// its round trip + the tolerance + the drift allowance over the distance to it — so a slow sample taken
    /// during a fault (its round trip includes reconnecting) does not widen the uncertainty when a tight one
    /// is near (the earlier sample on a tie).
    /// </summary>
    public (DateTimeOffset At, TimeSpan Uncertainty) ToDb(DateTimeOffset workerUtc)
    {
        var best = _samples.MinBy(s => Uncertainty(s, workerUtc))!;
        return (workerUtc + (best.DbUtc - best.WorkerUtc), Uncertainty(best, workerUtc));
    }

    private TimeSpan Uncertainty(ClockSample sample, DateTimeOffset workerUtc) =>
        (sample.RoundTrip / 2) + _tolerance + ((sample.WorkerUtc - workerUtc).Duration() * DriftAllowance);
}
