using CycleLock.Testing;
using CycleLock.Tests.SiloHost;

namespace CycleLock.Tests.Benchmarks;

/// <summary>The benchmark command in its smoke mode (tiny sizes, no speed assertions): every scenario and
/// baseline runs, the history counts match the operations, and the ratios are printed.</summary>
[Collection(HostCollection.Name)]
public sealed class BenchmarkSmokeTests(SiloHostFixture fixture)
{
    [Fact]
    public async Task BenchSmoke_RunsEveryScenarioAgainstItsBaselines()
    {
        var json = Path.Combine(Path.GetTempPath(), $"cyclelock-bench-smoke-{Guid.NewGuid():N}.json");
        var pgbench = Tools.Which("pgbench") ?? Directory.GetFiles("/usr/lib/postgresql", "pgbench", SearchOption.AllDirectories).FirstOrDefault() ?? "none";
        var result = await Tools.RunAsync("dotnet", [BuildOutput.Of("bench/CycleLock.Benchmarks", "CycleLock.Benchmarks.dll"),
            "--connection", fixture.Postgres.ConnectionString, "--smoke", "--json", json, "--pgbench", pgbench],
            throwOnError: false, workingDirectory: BuildOutput.Root, timeout: TimeSpan.FromMinutes(4));
        var text = result.StandardOutput + result.StandardError;
        TestContext.Current.SendDiagnosticMessage("bench --smoke:\n" + text);
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}");
        foreach (var expected in new[] { "B1 acquire+release: grains (SDK) ÷ raw Npgsql", "B1 acquire+release: grains (SDK) ÷ DistributedLock.Postgres", "B2 keep-alive: grains (KeepAlive) ÷ no-op grain call", "B2 keep-alive: grains (KeepAlive) ÷ raw single-row renew", "B5 uncontended acquire: grains, warm ÷ raw Npgsql", "B5 uncontended acquire: grains, cold ÷ raw Npgsql", "check: B1 grains: 400 grants and 400 releases", "check: B3     200 leases", "renewed in the window 200/200, held at the end 200/200", "check: B4 memory",
            "B6 scaling, 1 workers: grains ÷ DistributedLock.Postgres", "B6 scaling, 4 workers: grains ÷ raw Npgsql (same SQL)", "B7 hot-lock hand-off: grains ÷ DistributedLock.Postgres",
            "check: B1 grains (SDK): ", "ownership changes", "check: B6 grains: ", "check: B7 grains: " })
        {
            Assert.Contains(expected, text, StringComparison.Ordinal);
        }

        Assert.True(File.Exists(json));
        File.Delete(json);
    }
}
