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
}
