using System.Globalization;

namespace CycleLock.Benchmarks;

/// <summary>The table and the ratios against each scenario's baseline.</summary>
public static class Report
{
    private static readonly (string Scenario, string Measured, string Baseline, string Target)[] Pairs =
    [
        ("B1 acquire+release", "grains (SDK)", "raw Npgsql (same SQL)", "≥ 3 (throughput)"),
        ("B1 acquire+release", "grains (SDK)", "DistributedLock.Postgres (advisory)", "≥ 1.0 (throughput)"),
        ("B1 acquire+release", "grains (SDK)", "pgbench (same SQL)", "(reference)"),
        ("B2 keep-alive", "grains (KeepAlive)", "no-op grain call", "≥ 0.8 (throughput)"),
        ("B2 keep-alive", "grains (KeepAlive)", "raw single-row renew", "≥ 10 (throughput)"),
        ("B5 uncontended acquire", "grains, warm", "raw Npgsql", "≤ 1.5 (p99 ratio)"),
        ("B5 uncontended acquire", "grains, cold", "raw Npgsql", "(p99 ratio)"),
    ];

    public static void Print(IReadOnlyList<Measurement> results, IReadOnlyList<string> checks, double? fsyncPerSecond = null)
    {
        Console.WriteLine();
        Console.WriteLine($"{"scenario",-24} {"variant",-38} {"ops",8} {"ops/s",10} {"p50 ms",8} {"p99 ms",8}");
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Scenario,-24} {r.Variant,-38} {r.Operations,8} {r.PerSecond,10:0} {r.P50Ms,8:0.00} {r.P99Ms,8:0.00}"));
        }

        Console.WriteLine();
        foreach (var ratio in Ratios(results, fsyncPerSecond))
        {
            Console.WriteLine(ratio);
        }

        Console.WriteLine();
        foreach (var check in checks)
        {
            Console.WriteLine("check: " + check);
        }
    }

    public static List<string> Ratios(IReadOnlyList<Measurement> results, double? fsyncPerSecond = null)
    {
        var lines = new List<string>();
        lines.AddRange(FixedRatios(results));

        // B6 at every worker count: grains against the peer and against the same SQL.
        foreach (var scenario in results.Select(r => r.Scenario).Where(s => s.StartsWith(Scaling.B6, StringComparison.Ordinal)).Distinct())
        {
            var workers = int.Parse(scenario.Split(", ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
            var grains = results.FirstOrDefault(r => r.Scenario == scenario && r.Variant == "grains (SDK)");
            var peer = results.FirstOrDefault(r => r.Scenario == scenario && r.Variant == "DistributedLock.Postgres (advisory)");
            var sql = results.FirstOrDefault(r => r.Scenario == scenario && r.Variant == "raw Npgsql (same SQL)");
            if (grains is null)
            {
                continue;
            }

            if (peer is not null)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"{scenario}: grains ÷ DistributedLock.Postgres = {grains.PerSecond / peer.PerSecond:0.00} (throughput; target {(workers >= 64 ? "≥ 1.0" : "(peer)")})"));
            }

            if (sql is not null)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"{scenario}: grains ÷ raw Npgsql (same SQL) = {grains.PerSecond / sql.PerSecond:0.00} (throughput; reference)"));
            }

            if (workers == 1 && fsyncPerSecond is { } fsync)
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"{scenario}: grains ÷ fsync floor (fsync/s ÷ 2 = {fsync / 2:0}) = {grains.PerSecond / (fsync / 2):0.00} (throughput; target ≥ 0.8)"));
            }
        }

        var hot = results.FirstOrDefault(r => r.Scenario == Scaling.B7 && r.Variant == "grains (SDK)");
        var hotPeer = results.FirstOrDefault(r => r.Scenario == Scaling.B7 && r.Variant == "DistributedLock.Postgres (advisory)");
        if (hot is not null && hotPeer is not null)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{Scaling.B7}: grains ÷ DistributedLock.Postgres = {hot.PerSecond / hotPeer.PerSecond:0.00} (hand-offs/s; target ≥ 1.0)"));
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{Scaling.B7}: grains ÷ DistributedLock.Postgres = {hot.P99Ms / hotPeer.P99Ms:0.00} (hand-off p99; target ≤ 2.0; p50 {hot.P50Ms:0.00} vs {hotPeer.P50Ms:0.00} ms)"));
        }

        return lines;
    }

    private static List<string> FixedRatios(IReadOnlyList<Measurement> results)
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
