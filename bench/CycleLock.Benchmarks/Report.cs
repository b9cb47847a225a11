using System.Globalization;

namespace CycleLock.Benchmarks;

/// <summary>The table and the ratios against each scenario's baseline.</summary>
public static class Report
{
    private static readonly (string Scenario, string Measured, string Baseline, string Target)[] Pairs =
    [
        ("B1 acquire+release", "grains (SDK)", "raw Npgsql (same SQL)", "≥ 1.0 (throughput)"),
        ("B1 acquire+release", "grains (SDK)", "DistributedLock.Postgres (advisory)", "(peer)"),
        ("B1 acquire+release", "grains (SDK)", "pgbench (same SQL)", "(reference)"),
        ("B2 keep-alive", "grains (KeepAlive)", "no-op grain call", "≥ 0.8 (throughput)"),
        ("B2 keep-alive", "grains (KeepAlive)", "raw single-row renew", "≥ 10 (throughput)"),
        ("B5 uncontended acquire", "grains, warm", "raw Npgsql", "≤ 1.5 (p99 ratio)"),
        ("B5 uncontended acquire", "grains, cold", "raw Npgsql", "(p99 ratio)"),
    ];

    public static void Print(IReadOnlyList<Measurement> results, IReadOnlyList<string> checks)
    {
        Console.WriteLine();
        Console.WriteLine($"{"scenario",-24} {"variant",-38} {"ops",8} {"ops/s",10} {"p50 ms",8} {"p99 ms",8}");
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Scenario,-24} {r.Variant,-38} {r.Operations,8} {r.PerSecond,10:0} {r.P50Ms,8:0.00} {r.P99Ms,8:0.00}"));
        }

        Console.WriteLine();
        foreach (var ratio in Ratios(results))
        {
            Console.WriteLine(ratio);
        }

        Console.WriteLine();
        foreach (var check in checks)
        {
            Console.WriteLine("check: " + check);
        }
    }

    public static List<string> Ratios(IReadOnlyList<Measurement> results)
    {
        var lines = new List<string>();
        foreach (var (scenario, measured, baseline, target) in Pairs)
        {
            var m = results.FirstOrDefault(r => r.Scenario == scenario && r.Variant == measured);
            var b = results.FirstOrDefault(r => r.Scenario == scenario && r.Variant == baseline);
            if (m is null || b is null)
            {
                continue;
            }

            var ratio = scenario.StartsWith("B5", StringComparison.Ordinal) ? m.P99Ms / b.P99Ms : m.PerSecond / b.PerSecond;
            var kind = scenario.StartsWith("B5", StringComparison.Ordinal) ? "p99" : "throughput";
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{scenario}: {measured} ÷ {baseline} = {ratio:0.00} ({kind}; target {target})"));
        }

        return lines;
    }
}
