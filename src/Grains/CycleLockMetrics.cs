using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CycleLock;

/// <summary>
/// The instruments of the <c>CycleLock</c> meter (DESIGN §10): leases, the renewal coalescer and the lease store's
/// database attempts, give-ups, reconnects and shed statements. The meter comes from the host's
/// <see cref="IMeterFactory"/> (one per service provider, disposed with it); the database pipeline's retries and
/// circuit-breaker changes are Polly's own telemetry (meter <c>Polly</c>, <c>resilience.polly.strategy.events</c>,
/// tagged with the operation and matcher rule). Export both with OpenTelemetry; the silo host serves them at <c>/metrics</c>.
/// </summary>
public sealed class CycleLockMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "CycleLock";

    private readonly Counter<long> _acquires;
    private readonly Histogram<double> _acquireDuration;
    private readonly UpDownCounter<long> _holds;
    private readonly Histogram<double> _renewDuration;
    private readonly Histogram<double> _timeLeft;
    private readonly Counter<long> _losses;
    private readonly Counter<long> _moved;
    private readonly Counter<long> _displacing;
    private readonly Counter<long> _clockJumps;
    private readonly Counter<long> _stalls;
    private readonly Counter<long> _deferrals;
    private readonly Counter<long> _flushes;
    private readonly Histogram<long> _batchSize;
    private readonly Histogram<double> _flushDuration;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _firstAttempts;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _giveUps;
    private readonly Counter<long> _shed;
    private readonly Counter<long> _accessDenied;

    /// <summary>Creates the instruments on a meter of <paramref name="meterFactory"/>.</summary>
    public CycleLockMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _acquires = meter.CreateCounter<long>("cyclelock.acquires", description: "Acquires by outcome (granted, reacquired, busy, dead, spent).");
        _acquireDuration = meter.CreateHistogram<double>("cyclelock.acquire.duration", "ms", "Acquire latency in the grain, by outcome.");
        _holds = meter.CreateUpDownCounter<long>("cyclelock.holds", description: "Leases served by this silo's activations.");
        _renewDuration = meter.CreateHistogram<double>("cyclelock.renew.duration", "ms", "Renewal latency, by outcome.");
        _timeLeft = meter.CreateHistogram<double>("cyclelock.renew.time_left", "s", "Time left on the lease when a renewal returned.");
        _losses = meter.CreateCounter<long>("cyclelock.losses", description: "Leases lost, by cause.");
        _moved = meter.CreateCounter<long>("cyclelock.moved", description: "Leases this activation found served elsewhere (answered moved).");
        _displacing = meter.CreateCounter<long>("cyclelock.adoptions.displacing", description: "Adoptions that took a lease over from another live activation.");
        _clockJumps = meter.CreateCounter<long>("cyclelock.db_clock_jumps", description: "Database clock movements beyond m/2 between renewals.");
        _stalls = meter.CreateCounter<long>("cyclelock.stalls", description: "Leases released as stalled (holders that stopped keeping alive).");
        _deferrals = meter.CreateCounter<long>("cyclelock.releases.deferred", description: "Stall and lease-lost releases put off to a later turn because the silo's background database lane was full.");
        _flushes = meter.CreateCounter<long>("cyclelock.coalescer.flushes", description: "Coalesced statements sent, by kind (renew, adopt).");
        _batchSize = meter.CreateHistogram<long>("cyclelock.coalescer.batch_size", description: "Leases per coalesced statement, by kind.");
        _flushDuration = meter.CreateHistogram<double>("cyclelock.coalescer.flush.duration", "ms", "Coalesced statement latency, retries included, by kind.");
        _fallbacks = meter.CreateCounter<long>("cyclelock.coalescer.fallbacks", description: "Coalesced statements that failed permanently and were sent one lease at a time.");
        _attempts = meter.CreateCounter<long>("cyclelock.db.attempts", description: "Database attempts by operation and outcome (success or the matcher rule).");
        _firstAttempts = meter.CreateCounter<long>("cyclelock.db.first_attempts", description: "First attempts of executions, by operation and outcome (success or the matcher rule).");
        _reconnects = meter.CreateCounter<long>("cyclelock.db.reconnects", description: "Pool clears after a reconnect-class failure.");
        _giveUps = meter.CreateCounter<long>("cyclelock.db.giveups", description: "Executions that failed, by operation and matcher rule.");
        _accessDenied = meter.CreateCounter<long>("cyclelock.access.denied", description: "Client calls refused by the access filter, by rule (credential-required, unknown-credential, operator-only, outside-prefixes).");
        _shed = meter.CreateCounter<long>("cyclelock.db.shed", description: "Statements refused as overloaded before they were sent, by operation and lane.");
    }

    /// <summary>The instruments of a process without a service provider (tests, tools): one meter for the process.</summary>
    public static CycleLockMetrics Unhosted { get; } = new(new UnhostedMeterFactory());

    internal void Acquired(string outcome, TimeSpan duration)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        _acquires.Add(1, tag);
        _acquireDuration.Record(duration.TotalMilliseconds, tag);
    }

    internal void Hold(int delta) => _holds.Add(delta);

    internal void AccessDenied(string rule) => _accessDenied.Add(1, new KeyValuePair<string, object?>("rule", rule));

    internal void Renewed(string outcome, TimeSpan duration, TimeSpan? timeLeft)
    {
        _renewDuration.Record(duration.TotalMilliseconds, new KeyValuePair<string, object?>("outcome", outcome));
        if (timeLeft is { } left)
        {
            _timeLeft.Record(left.TotalSeconds);
        }
    }

    internal void Lost(string cause) => _losses.Add(1, new KeyValuePair<string, object?>("cause", cause));

    internal void MovedAnswer() => _moved.Add(1);

    internal void DisplacingAdoption() => _displacing.Add(1);

    internal void ClockJump() => _clockJumps.Add(1);

    internal void Stall() => _stalls.Add(1);

    internal void Deferred() => _deferrals.Add(1);

    internal void Flushed(string kind, int size, TimeSpan duration)
    {
        var tag = new KeyValuePair<string, object?>("kind", kind);
        _flushes.Add(1, tag);
        _batchSize.Record(size, tag);
        _flushDuration.Record(duration.TotalMilliseconds, tag);
    }

    internal void FallBack(string kind) => _fallbacks.Add(1, new KeyValuePair<string, object?>("kind", kind));

    internal void Attempt(string op, string outcome, bool first, KeyValuePair<string, object?> service)
    {
        _attempts.Add(1, new("op", op), new("outcome", outcome), service);
        if (first)
        {
            _firstAttempts.Add(1, new("op", op), new("outcome", outcome), service);
        }
    }

    internal void GaveUp(string op, string rule, KeyValuePair<string, object?> service) => _giveUps.Add(1, new("op", op), new("rule", rule), service);

    internal void Reconnected(KeyValuePair<string, object?> service) => _reconnects.Add(1, service);

    internal void Refused(string op, string lane, KeyValuePair<string, object?> service) => _shed.Add(1, new("op", op), new("lane", lane), service);

    internal static long Now() => Stopwatch.GetTimestamp();

    internal static TimeSpan Since(long start) => Stopwatch.GetElapsedTime(start);

    // Meters for code built without a service provider; they live as long as the process.
    private sealed class UnhostedMeterFactory : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }
}
