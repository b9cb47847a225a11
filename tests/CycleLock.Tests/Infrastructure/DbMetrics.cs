using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CycleLock.Resilience;

namespace CycleLock.Tests.Infrastructure;

/// <summary>Collects the lease store's database counters for one ServiceId (other tests run alongside).</summary>
public sealed class DbMetrics : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string Op, string Detail), long> _counts = new();

    public DbMetrics(string serviceId)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == DatabaseResilience.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? service = null, op = null, detail = null;
            foreach (var tag in tags)
            {
                switch (tag.Key)
                {
                    case "service": service = tag.Value as string; break;
                    case "op": op = tag.Value as string; break;
                    case "outcome" or "rule" or "state": detail = tag.Value as string; break;
                }
            }

            if (service == serviceId)
            {
                _counts.AddOrUpdate((instrument.Name, op ?? string.Empty, detail ?? string.Empty), value, (_, v) => v + value);
            }
        });
        _listener.Start();
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
