using System.Diagnostics;
using CycleLock.Tests.Infrastructure;

namespace CycleLock.Tests.Chaos;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosRunCollection
{
    public const string Name = "Chaos run";
}

/// <summary>
/// The short chaos run (deploy/chaos without --long): its own PostgreSQL and PgBouncer, three silo
/// processes in two clusters, six workers behind TCP proxies, every fault kind once, then the checker.
/// Its collection does not run in parallel, so xUnit runs it after every other collection: the faults'
/// timing budgets are not shared with the rest of the suite.
/// </summary>
[Collection(ChaosRunCollection.Name)]
public sealed class ChaosRunTests
{
    [Fact]
    public async Task ShortRun_EveryFaultKindBites_NoViolation()
    {
        var directory = Path.Combine(Path.GetTempPath(), "cyclelock-chaos-test-" + Guid.NewGuid().ToString("N")[..8]);
        var start = new ProcessStartInfo("dotnet", [BuildOutput.Of("tests/CycleLock.Chaos", "CycleLock.Chaos.dll"),
            "run", "--root", BuildOutput.Root, "--configuration", BuildOutput.Configuration, "--directory", directory])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            // SIGTERM lets the harness stop PostgreSQL, PgBouncer, the silos and any stopped worker.
            using var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await term.WaitForExitAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                process.Kill(entireProcessTree: true);
            }
        }

        await process.WaitForExitAsync();
        var text = await output + await error;
        TestContext.Current.SendDiagnosticMessage("chaos (short mode):\n" + text);
        Assert.True(process.ExitCode == 0, $"the chaos run exited {process.ExitCode} (logs in {directory}):\n{text}");
        Assert.Contains("chaos check PASSED", text, StringComparison.Ordinal);
        Directory.Delete(directory, recursive: true);
    }
}
