using System.Globalization;
using CycleLock.Testing;

namespace CycleLock.Tests.SiloHost;

/// <summary>The README's run command, <c>deploy/local</c>, in its CI mode: two silos on ADO.NET membership
/// come up and <c>cyclelock list</c> answers through both gateways — open, and with <c>--secure</c> (mutual TLS and
/// credentials).</summary>
[Collection(HostCollection.Name)]
public sealed class LocalScriptTests(SiloHostFixture fixture)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)] // --secure: mutual TLS from a throwaway CA, and credentials
    public async Task LocalScript_Smoke_TwoSilosComeUp_AndListAnswers(bool secure)
    {
        var root = BuildOutput.Root;
        var state = Directory.CreateTempSubdirectory("cyclelock-local-test-").FullName;
        var env = new Dictionary<string, string>
        {
            ["CYCLELOCK_CONNECTION"] = fixture.Postgres.ConnectionString,
            ["CYCLELOCK_NO_BUILD"] = "1",
            ["CYCLELOCK_CONFIGURATION"] = BuildOutput.Configuration,
            ["CYCLELOCK_SERVICE_ID"] = "local-" + Guid.NewGuid().ToString("N")[..8],
            ["CYCLELOCK_CLUSTER_ID"] = "local-" + Guid.NewGuid().ToString("N")[..8],
            ["CYCLELOCK_LOCAL_DIR"] = state,
        };
        foreach (var name in new[] { "CYCLELOCK_SILO_PORT_1", "CYCLELOCK_SILO_PORT_2", "CYCLELOCK_GATEWAY_PORT_1", "CYCLELOCK_GATEWAY_PORT_2", "CYCLELOCK_WEB_PORT_1", "CYCLELOCK_WEB_PORT_2" })
        {
            env[name] = Ports.Free().ToString(CultureInfo.InvariantCulture);
        }

        var result = await Tools.RunAsync("bash", [Path.Combine(root, "deploy", "local"), "--smoke", .. (secure ? new[] { "--secure" } : [])], throwOnError: false, environment: env, workingDirectory: root, timeout: TimeSpan.FromMinutes(3));
        var all = result.StandardOutput + result.StandardError;
        TestContext.Current.SendDiagnosticMessage("deploy/local --smoke:\n" + all);
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}");
        Assert.Contains("Silo 1 up", all, StringComparison.Ordinal);
        Assert.Contains("Silo 2 up", all, StringComparison.Ordinal);
        Assert.Contains("lock(s)", all, StringComparison.Ordinal);
        if (secure)
        {
            Assert.Contains("wrote ca, silo and client certificates", all, StringComparison.Ordinal);
            Assert.DoesNotContain(File.ReadAllText(Path.Combine(state, "operator.secret")).Trim(), all, StringComparison.Ordinal);
        }

        Directory.Delete(state, recursive: true);
    }

    [Fact]
    public async Task LocalScript_Keep_TheCliWithNoFlagsReachesIt_AndStopEndsTheSilosAndItsPostgres()
    {
        // The defaults on purpose (ports 30000/30001, 11111/11112, 8080/8081, ServiceId cyclelock, ClusterId dev) and
        // the script's own PostgreSQL: what a new user gets from `bash deploy/local --keep`.
        var root = BuildOutput.Root;
        var state = Directory.CreateTempSubdirectory("cyclelock-local-keep-").FullName;
        await Tools.RunAsync("chmod", ["755", state]); // PostgreSQL runs as postgres under root
        var env = new Dictionary<string, string>
        {
            ["CYCLELOCK_NO_BUILD"] = "1",
            ["CYCLELOCK_CONFIGURATION"] = BuildOutput.Configuration,
            ["CYCLELOCK_LOCAL_DIR"] = state,
        };
        try
        {
            var kept = await Tools.RunAsync("bash", [Path.Combine(root, "deploy", "local"), "--keep", "--smoke"], throwOnError: false, environment: env, workingDirectory: root, timeout: TimeSpan.FromMinutes(3));
            var keptOutput = kept.StandardOutput + kept.StandardError;
            TestContext.Current.SendDiagnosticMessage("deploy/local --keep --smoke:\n" + keptOutput);
            Assert.True(kept.ExitCode == 0, $"exit {kept.ExitCode}: {keptOutput}");
            Assert.Contains("Stop with: bash deploy/local --stop", keptOutput, StringComparison.Ordinal);
            var pids = (await File.ReadAllTextAsync(Path.Combine(state, "silo.pids"))).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
            Assert.Equal(2, pids.Length);

            // The CLI with no flags and no environment of its own reaches the kept cluster.
            var list = await Tools.RunAsync("dotnet", [BuildOutput.Of("src/Client/Cli", "cyclelock.dll"), "list"], throwOnError: false, environment: new Dictionary<string, string> { ["COLUMNS"] = "250" }, timeout: TimeSpan.FromMinutes(1));
            Assert.True(list.ExitCode == 0, $"`cyclelock list` with no flags exited {list.ExitCode}: {list.StandardOutput}{list.StandardError}");
            Assert.Contains("lock(s)", list.StandardOutput, StringComparison.Ordinal);

            var stop = await Tools.RunAsync("bash", [Path.Combine(root, "deploy", "local"), "--stop"], throwOnError: false, environment: env, workingDirectory: root, timeout: TimeSpan.FromMinutes(1));
            Assert.True(stop.ExitCode == 0, $"--stop exited {stop.ExitCode}: {stop.StandardOutput}{stop.StandardError}");
            Assert.Contains("Stopped 2 silo(s).", stop.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("Stopped PostgreSQL", stop.StandardOutput, StringComparison.Ordinal);
            foreach (var pid in pids)
            {
                Assert.False(Directory.Exists($"/proc/{pid}"), $"silo {pid} still runs after --stop");
            }

            Assert.True(File.Exists(Path.Combine(state, "pg", "data", "PG_VERSION")), "the script did not run its own PostgreSQL in the state folder");
            Assert.False(File.Exists(Path.Combine(state, "pg", "data", "postmaster.pid")), "PostgreSQL still runs after --stop");
        }
        finally
        {
            await Tools.RunAsync("bash", [Path.Combine(root, "deploy", "local"), "--stop"], throwOnError: false, environment: env, workingDirectory: root, timeout: TimeSpan.FromMinutes(1));
            Directory.Delete(state, recursive: true);
        }
    }
}
