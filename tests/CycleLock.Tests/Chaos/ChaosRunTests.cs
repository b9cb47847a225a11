using CycleLock.Testing;

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
        await using var run = ManagedProcess.Start("chaos", "dotnet", [BuildOutput.Of("tests/CycleLock.Chaos", "CycleLock.Chaos.dll"),
            "run", "--root", BuildOutput.Root, "--configuration", BuildOutput.Configuration, "--directory", directory]);
        if (!await run.WaitForExitAsync(TimeSpan.FromMinutes(5)))
        {
            // SIGTERM lets the harness stop PostgreSQL, PgBouncer, the silos and any stopped worker.
            await run.SignalAsync(Signal.Term);
            if (!await run.WaitForExitAsync(TimeSpan.FromSeconds(60)))
            {
                await run.KillAsync();
            }
        }

        var text = run.Output;
        TestContext.Current.SendDiagnosticMessage("chaos (short mode):\n" + text);
        Assert.True(run.ExitCode == 0, $"the chaos run exited {run.ExitCode} (logs in {directory}):\n{text}");
        Assert.Contains("chaos check PASSED", text, StringComparison.Ordinal);
        Directory.Delete(directory, recursive: true);
    }
}
