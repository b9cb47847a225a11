using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace CycleLock.Tests.Infrastructure;

/// <summary>Collects the lease store's database counters for one ServiceId (other tests run alongside): CycleLock's
/// own (<c>cyclelock.db.*</c>) and the pipeline's Polly events (<see cref="Retries"/>, <see cref="BreakerOpened"/>).</summary>
public sealed class DbMetrics : IDisposable
{
    /// <summary>Polly's retry events of the pipeline (by op and matcher rule).</summary>
    public const string Retries = "polly:OnRetry";

    /// <summary>Polly's breaker-opened events of the pipeline.</summary>
    public const string BreakerOpened = "polly:OnCircuitOpened";

    private const string PollyEvents = "resilience.polly.strategy.events";
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string Op, string Detail), long> _counts = new();

    public DbMetrics(string serviceId)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == CycleLockMetrics.MeterName || (instrument.Meter.Name == "Polly" && instrument.Name == PollyEvents))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument.Name, value, tags));
        _listener.Start();

        void Record(string instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? service = null, op = null, detail = null, pollyEvent = null;
            foreach (var tag in tags)
            {
                switch (tag.Key)
                {
                    case "service": service = tag.Value as string; break;
                    case "op": op = tag.Value as string; break;
                    case "outcome" or "rule" or "state": detail = tag.Value as string; break;
                    case "event.name": pollyEvent = tag.Value as string; break;
                }
            }

            if (service == serviceId)
            {
                var name = instrument == PollyEvents ? "polly:" + pollyEvent : instrument;
                _counts.AddOrUpdate((name, op ?? string.Empty, detail ?? string.Empty), value, (_, v) => v + value);
            }
        }
    }

    /// <summary>Sum of an instrument's measurements, optionally for one operation and one outcome/rule.</summary>
    public long Count(string instrument, string? op = null, string? detail = null) =>
        _counts.Where(p => p.Key.Instrument == instrument && (op is null || p.Key.Op == op) && (detail is null || p.Key.Detail == detail)).Sum(p => p.Value);

    /// <summary>One instrument's counts for one operation by outcome/rule, read at one instant.</summary>
    public Dictionary<string, long> ByDetail(string instrument, string op) =>
        _counts.ToArray().Where(p => p.Key.Instrument == instrument && p.Key.Op == op).ToDictionary(p => p.Key.Detail, p => p.Value);

    /// <summary>Renewal statements: the per-lock <c>renew</c> and the coalesced <c>renew-many</c>.</summary>
    public long Renewals(string instrument, string? detail = null) => Count(instrument, "renew", detail) + Count(instrument, "renew-many", detail);

    public string Describe() => string.Join(", ", _counts.OrderBy(p => p.Key.Instrument).Select(p => $"{p.Key.Instrument}[{p.Key.Op}/{p.Key.Detail}]={p.Value}"));

    public void Dispose() => _listener.Dispose();
}
