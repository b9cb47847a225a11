using System.Globalization;
using System.Text.RegularExpressions;
using CycleLock.Testing;
using Npgsql;

namespace CycleLock.Benchmarks;

/// <summary>B1's fourth baseline: pgbench running the same acquire and release statements.</summary>
public static partial class PgBench
{
    public static async Task<Measurement> RunAsync(string pgbench, string connection, string serviceId, int clients, TimeSpan duration)
    {
        var cs = new NpgsqlConnectionStringBuilder(connection);
        var script = Path.Combine(Path.GetTempPath(), $"cyclelock-pgbench-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(script, """
            \set n random(1, 1000000000)
            SELECT epoch AS e, holder_id AS h FROM cyclelock.acquire(':service', 'b1-pgbench/' || :client_id || '/' || :n, gen_random_uuid(), 'pgbench', '\x01'::bytea, interval '30 seconds', 'pgbench', 250) \gset
            SELECT outcome FROM cyclelock.release(':service', 'b1-pgbench/' || :client_id || '/' || :n, ':h'::uuid, '\x01'::bytea, :e, 'pgbench', 'completed', true, 3);
            """);
        var (exitCode, output, error) = await Tools.RunAsync(pgbench, ["-n", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", "2", "-T", ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            "-f", script, "-D", $"service={serviceId}", "-h", cs.Host!, "-p", cs.Port.ToString(CultureInfo.InvariantCulture), "-U", cs.Username!, cs.Database!], throwOnError: false);
        File.Delete(script);
        var tps = Tps().Match(output);
        var latency = Latency().Match(output);
        if (exitCode != 0 || !tps.Success)
        {
            throw new InvalidOperationException($"pgbench failed ({exitCode}): {output} {error}");
        }

        var perSecond = double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture);
        var average = latency.Success ? double.Parse(latency.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
        return new Measurement("B1 acquire+release", "pgbench (same SQL)", (long)(perSecond * duration.TotalSeconds), duration, average, double.NaN, "pgbench reports the average latency (in the p50 column), no p99");
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex Tps();

    [GeneratedRegex(@"latency average = ([0-9.]+) ms")]
    private static partial Regex Latency();
}
