using System.Globalization;
using System.Text.RegularExpressions;
using CycleLock.Testing;

namespace CycleLock.Benchmarks;

/// <summary>The machine's fdatasync rate, from PostgreSQL's pg_test_fsync (one 8 kB write per sync), in the temp folder
/// the benchmark's database lives in.</summary>
public static partial class FsyncRate
{
    public static async Task<double?> MeasureAsync(string pgTestFsync, bool smoke)
    {
        var file = Path.Combine(Path.GetTempPath(), $"cyclelock-fsync-{Guid.NewGuid():N}");
        try
        {
            var (exitCode, output, _) = await Tools.RunAsync(pgTestFsync, ["-f", file, "-s", smoke ? "1" : "2"], throwOnError: false);
            var match = Fdatasync().Match(output);
            return exitCode == 0 && match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
        }
        finally
        {
            File.Delete(file);
        }
    }

    // The first fdatasync line: "Compare file sync methods using one 8kB write".
    [GeneratedRegex(@"^\s*fdatasync\s+([0-9.]+) ops/sec", RegexOptions.Multiline)]
    private static partial Regex Fdatasync();
}
