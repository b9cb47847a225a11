using System.Diagnostics;
using System.Globalization;

namespace CycleLock.Benchmarks;

/// <summary>B6 (acquire+release pairs per second as concurrent workers grow, over a fixed set of locks) and B7 (a few
/// hot locks handed from worker to worker by waiting acquires).</summary>
public static class Scaling
{
    public const string B6 = "B6 scaling";

    public const string B7 = "B7 hot-lock hand-off";

    /// <summary>The B6 scenario name at <paramref name="workers"/> workers.</summary>
    public static string B6At(int workers) => string.Create(CultureInfo.InvariantCulture, $"{B6}, {workers} workers");

    /// <summary>Each variant at each worker count, variants alternating within a worker count (same minute, same noise):
    /// worker w uses its own slice of the <paramref name="locks"/> names, in turn, so every lock is used and no two
    /// workers contend.</summary>
    public static async Task<List<Measurement>> RunB6Async(int[] workerCounts, int locks, TimeSpan warmUp, TimeSpan duration, IReadOnlyList<(string Variant, string Prefix, Func<string, Task> Pair)> variants)
    {
        var results = new List<Measurement>();
        foreach (var workers in workerCounts)
        {
            var slice = Math.Max(1, locks / workers);
            foreach (var (variant, prefix, pair) in variants)
            {
                var turns = new long[workers];
                Task Op(int worker, long _) => pair($"{prefix}/{(worker * slice) + (turns[worker]++ % slice)}");
                await Measurement.RunAsync("warm-up", variant, workers, long.MaxValue, warmUp, Op);
                var m = await Measurement.RunAsync(B6At(workers), variant, workers, long.MaxValue, duration, Op, $"{workers} workers over {Math.Min(locks, slice * workers)} locks");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{m.Scenario,-24} {variant,-38} {m.PerSecond,8:0} pairs/s  p50 {m.P50Ms:0.00} ms  p99 {m.P99Ms:0.00} ms"));
                results.Add(m);
            }
        }

        return results;
    }

    /// <summary>B7: <paramref name="workers"/> loops, each on one of <paramref name="names"/> (worker w on name w mod n),
    /// acquire with waiting, release at once, again. Operations are hand-offs (grants); the latencies are from a
    /// release being called to the next grant of the same lock returning to its worker.</summary>
    public static async Task<Measurement> RunB7Async(string variant, int workers, string[] names, TimeSpan duration, Func<string, CancellationToken, Task<Func<Task>>> acquire)
    {
        var events = names.ToDictionary(n => n, _ => new List<(long At, bool Grant)>(), StringComparer.Ordinal);
        using var stop = new CancellationTokenSource(duration);
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            var name = names[w % names.Length];
            var mine = events[name];
            while (!stop.IsCancellationRequested)
            {
                Func<Task> release;
                try
                {
                    release = await acquire(name, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }

                var granted = Stopwatch.GetTimestamp();
                lock (mine)
                {
                    mine.Add((granted, true));
                }

                // Let go at once: the time from here to the next grant of this lock is the hand-off.
                lock (mine)
                {
                    mine.Add((Stopwatch.GetTimestamp(), false));
                }

                await release().ConfigureAwait(false);
            }
        })));
        watch.Stop();

        var handOffs = new List<double>();
        var grants = 0L;
        foreach (var list in events.Values)
        {
            long? releasedAt = null;
            foreach (var (at, grant) in list.OrderBy(e => e.At))
            {
                if (grant)
                {
                    grants++;
                    if (releasedAt is { } released)
                    {
                        handOffs.Add(Stopwatch.GetElapsedTime(released, at).TotalMilliseconds);
                    }

                    releasedAt = null;
                }
                else
                {
                    releasedAt = at;
                }
            }
        }

        var sorted = handOffs.Order().ToArray();
        return new Measurement(B7, variant, grants, watch.Elapsed, Measurement.Percentile(sorted, 0.5), Measurement.Percentile(sorted, 0.99),
            $"{workers} workers on {names.Length} locks, waiting acquires; latency = release called → next grant returned");
    }

    /// <summary>The B6 curve as a PNG: pairs per second against workers, one line per variant.</summary>
    public static void Plot(IReadOnlyList<Measurement> b6, int[] workerCounts, string path)
    {
        var plot = new ScottPlot.Plot();
        var positions = Enumerable.Range(0, workerCounts.Length).Select(i => (double)i).ToArray();
        foreach (var variant in b6.Select(m => m.Variant).Distinct())
        {
            var ys = workerCounts.Select(w => b6.FirstOrDefault(m => m.Scenario == B6At(w) && m.Variant == variant)?.PerSecond ?? double.NaN).ToArray();
            var line = plot.Add.Scatter(positions, ys);
            line.LegendText = variant;
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }

        plot.Axes.Bottom.SetTicks(positions, [.. workerCounts.Select(w => w.ToString(CultureInfo.InvariantCulture))]);
        plot.Axes.Bottom.Label.Text = "concurrent workers";
        plot.Axes.Left.Label.Text = "acquire + release pairs per second";
        plot.Axes.Margins(bottom: 0);
        plot.Title("B6: ownership changes as workers grow (10 000 locks)");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, 900, 540);
    }
}
