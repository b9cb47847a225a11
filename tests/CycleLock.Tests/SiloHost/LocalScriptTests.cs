using System.Diagnostics;
using System.Globalization;
using CycleLock.Tests.Infrastructure;

namespace CycleLock.Tests.SiloHost;

/// <summary>The README's run command, <c>deploy/local</c>, in its CI mode: two silos on ADO.NET membership
/// come up and <c>cyclelock list</c> answers through both gateways.</summary>
[Collection(HostCollection.Name)]
public sealed class LocalScriptTests(SiloHostFixture fixture)
{
    [Fact]
    public async Task LocalScript_Smoke_TwoSilosComeUp_AndListAnswers()
    {
        var root = BuildOutput.Root;
        var state = Directory.CreateTempSubdirectory("cyclelock-local-test-").FullName;
        var start = new ProcessStartInfo("bash", [Path.Combine(root, "deploy", "local"), "--smoke"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = root,
        };
        var env = start.Environment;
        env["CYCLELOCK_CONNECTION"] = fixture.Postgres.ConnectionString;
        env["CYCLELOCK_NO_BUILD"] = "1";
        env["CYCLELOCK_CONFIGURATION"] = BuildOutput.Configuration;
        env["CYCLELOCK_SERVICE_ID"] = "local-" + Guid.NewGuid().ToString("N")[..8];
        env["CYCLELOCK_CLUSTER_ID"] = "local-" + Guid.NewGuid().ToString("N")[..8];
        env["CYCLELOCK_LOCAL_DIR"] = state;
        foreach (var name in new[] { "CYCLELOCK_SILO_PORT_1", "CYCLELOCK_SILO_PORT_2", "CYCLELOCK_GATEWAY_PORT_1", "CYCLELOCK_GATEWAY_PORT_2", "CYCLELOCK_WEB_PORT_1", "CYCLELOCK_WEB_PORT_2" })
        {
            env[name] = Ports.Free().ToString(CultureInfo.InvariantCulture);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        var all = await output + await error;
        TestContext.Current.SendDiagnosticMessage("deploy/local --smoke:\n" + all);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}");
        Assert.Contains("Silo 1 up", all, StringComparison.Ordinal);
        Assert.Contains("Silo 2 up", all, StringComparison.Ordinal);
        Assert.Contains("lock(s)", all, StringComparison.Ordinal);
        Directory.Delete(state, recursive: true);
    }
}
