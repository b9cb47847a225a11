using System.Diagnostics;

namespace CycleLock.Benchmarks;

/// <summary>One scenario's result: operations, wall time, latency percentiles.</summary>
public sealed record Measurement(string Scenario, string Variant, long Operations, TimeSpan Elapsed, double P50Ms, double P99Ms, string Note)
{
    public double PerSecond => Operations / Elapsed.TotalSeconds;

    /// <summary>Runs <paramref name="callers"/> loops of <paramref name="operation"/> until <paramref name="total"/>
    /// operations are done (or <paramref name="duration"/> passes), recording each operation's latency.</summary>
    public static async Task<Measurement> RunAsync(string scenario, string variant, int callers, long total, TimeSpan duration, Func<int, long, Task> operation, string note = "")
    {
        var latencies = new List<double>[callers];
        long next = -1;
        var stopwatch = Stopwatch.StartNew();
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            var mine = latencies[caller] = new List<double>(1024);
            while (Stopwatch.GetTimestamp() < until)
            {
                var index = Interlocked.Increment(ref next);
                if (index >= total)
                {
                    break;
                }

                var start = Stopwatch.GetTimestamp();
                await operation(caller, index).ConfigureAwait(false);
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        })));
        stopwatch.Stop();
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new Measurement(scenario, variant, all.Length, stopwatch.Elapsed, Percentile(all, 0.50), Percentile(all, 0.99), note);
    }

    public static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
}
