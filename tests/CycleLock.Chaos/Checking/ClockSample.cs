namespace CycleLock.Chaos.Checking;

/// <summary>One <c>SELECT clock_timestamp()</c> sample taken by a worker.</summary>
/// <param name="Worker">The worker number.</param>
/// <param name="WorkerUtc">The worker's UTC at the midpoint of the round trip.</param>
/// <param name="DbUtc">The database's answer.</param>
/// <param name="RoundTrip">The round trip of the sample; half of it bounds the error of the offset.</param>
public sealed record ClockSample(int Worker, DateTimeOffset WorkerUtc, DateTimeOffset DbUtc, TimeSpan RoundTrip);
