using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CycleLock;

/// <summary>
/// The lease instruments of the <c>CycleLock</c> meter (DESIGN §10); the database pipeline adds its
/// attempts, retries, reconnects, breaker changes and give-ups to the same meter. Export it with
/// OpenTelemetry (<c>AddMeter(CycleLockMeter.Name)</c>); the silo host serves it at <c>/metrics</c>.
/// </summary>
public static class CycleLockMeter
{
    /// <summary>The meter's name.</summary>
    public const string Name = "CycleLock";

    private static readonly Meter Meter = new(Name);
    private static readonly Counter<long> Acquires = Meter.CreateCounter<long>("cyclelock.acquires", description: "Acquires by outcome (granted, reacquired, busy, dead, spent).");
    private static readonly Histogram<double> AcquireDuration = Meter.CreateHistogram<double>("cyclelock.acquire.duration", "ms", "Acquire latency in the grain, by outcome.");
    private static readonly UpDownCounter<long> Holds = Meter.CreateUpDownCounter<long>("cyclelock.holds", description: "Leases served by this silo's activations.");
    private static readonly Histogram<double> RenewDuration = Meter.CreateHistogram<double>("cyclelock.renew.duration", "ms", "Renewal latency, by outcome.");
    private static readonly Histogram<double> TimeLeft = Meter.CreateHistogram<double>("cyclelock.renew.time_left", "s", "Time left on the lease when a renewal returned.");
    private static readonly Counter<long> Losses = Meter.CreateCounter<long>("cyclelock.losses", description: "Leases lost, by cause.");
    private static readonly Counter<long> Moved = Meter.CreateCounter<long>("cyclelock.moved", description: "Leases this activation found served elsewhere (answered moved).");
    private static readonly Counter<long> Displacing = Meter.CreateCounter<long>("cyclelock.adoptions.displacing", description: "Adoptions that took a lease over from another live activation.");
    private static readonly Counter<long> ClockJumps = Meter.CreateCounter<long>("cyclelock.db_clock_jumps", description: "Database clock movements beyond m/2 between renewals.");
    private static readonly Counter<long> Stalls = Meter.CreateCounter<long>("cyclelock.stalls", description: "Leases released as stalled (holders that stopped keeping alive).");
    private static readonly Counter<long> Deferrals = Meter.CreateCounter<long>("cyclelock.releases.deferred", description: "Stall and lease-lost releases put off to a later turn because the silo's background database lane was full.");

    private static readonly Counter<long> Flushes = Meter.CreateCounter<long>("cyclelock.coalescer.flushes", description: "Coalesced statements sent, by kind (renew, adopt).");
    private static readonly Histogram<long> BatchSize = Meter.CreateHistogram<long>("cyclelock.coalescer.batch_size", description: "Leases per coalesced statement, by kind.");
    private static readonly Histogram<double> FlushDuration = Meter.CreateHistogram<double>("cyclelock.coalescer.flush.duration", "ms", "Coalesced statement latency, retries included, by kind.");
    private static readonly Counter<long> Fallbacks = Meter.CreateCounter<long>("cyclelock.coalescer.fallbacks", description: "Coalesced statements that failed permanently and were sent one lease at a time.");

    internal static void Acquired(string outcome, TimeSpan duration)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        Acquires.Add(1, tag);
        AcquireDuration.Record(duration.TotalMilliseconds, tag);
    }

    internal static void Hold(int delta) => Holds.Add(delta);

    internal static void Renewed(string outcome, TimeSpan duration, TimeSpan? timeLeft)
    {
        RenewDuration.Record(duration.TotalMilliseconds, new KeyValuePair<string, object?>("outcome", outcome));
        if (timeLeft is { } left)
        {
            TimeLeft.Record(left.TotalSeconds);
        }
    }

    internal static void Lost(string cause) => Losses.Add(1, new KeyValuePair<string, object?>("cause", cause));

    internal static void MovedAnswer() => Moved.Add(1);

    internal static void DisplacingAdoption() => Displacing.Add(1);

    internal static void ClockJump() => ClockJumps.Add(1);

    internal static void Stall() => Stalls.Add(1);

    internal static void Deferred() => Deferrals.Add(1);

    internal static void Flushed(string kind, int size, TimeSpan duration)
    {
        var tag = new KeyValuePair<string, object?>("kind", kind);
        Flushes.Add(1, tag);
        BatchSize.Record(size, tag);
        FlushDuration.Record(duration.TotalMilliseconds, tag);
    }

    internal static void FallBack(string kind) => Fallbacks.Add(1, new KeyValuePair<string, object?>("kind", kind));

    internal static long Now() => Stopwatch.GetTimestamp();

    internal static TimeSpan Since(long start) => Stopwatch.GetElapsedTime(start);
}
