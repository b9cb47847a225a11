using CycleLock.Client;
using CycleLock.Testing;
using Npgsql;

namespace CycleLock.Tests.SiloHost;

/// <summary>The <c>cyclelock</c> tool against a running silo: each command, bad arguments, a wrong epoch.</summary>
[Collection(HostCollection.Name)]
public sealed class CliTests(SiloHostFixture fixture)
{
    private static string NewName(string what) => $"cli-{what}/" + Guid.NewGuid().ToString("N")[..8];

    private Task<(int Code, string Out, string Err)> Cli(params string[] args) => RunAsync([.. args, .. fixture.Gateway]);

    // The built tool, 250 columns wide so that its tables do not wrap the values asserted on, with the operator
    // credential in CYCLELOCK_CREDENTIAL (or none, or another, when given).
    private static Task<(int Code, string Out, string Err)> RunAsync(params string[] args) => RunAsAsync(SiloHostFixture.OperatorCredential, args);

    private static async Task<(int Code, string Out, string Err)> RunAsAsync(string credential, params string[] args)
    {
        var result = await Tools.RunAsync("dotnet", [BuildOutput.Of("src/Client/Cli", "cyclelock.dll"), .. args], throwOnError: false, environment: new Dictionary<string, string> { ["COLUMNS"] = "250", ["CYCLELOCK_CREDENTIAL"] = credential }, timeout: TimeSpan.FromSeconds(60));
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }

    [Fact]
    public async Task WithoutACredential_OrWithAWorkers_OperatorCallsExitSix_AndNothingChanges()
    {
        var name = NewName("denied");
        var held = await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
        await using var handle = held.Handle!;
        var before = await RowAsync(name);
        var epoch = handle.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var file = Path.Combine(Path.GetTempPath(), "cyclelock-cred-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(file, SiloHostFixture.WorkerCredential + "\n");
        try
        {
            var none = await RunAsAsync(string.Empty, ["force-release", name, "--epoch", epoch, "--reason", "test", .. fixture.Gateway]);
            var worker = await RunAsAsync(string.Empty, ["force-release", name, "--epoch", epoch, "--reason", "test", "--credential-file", file, .. fixture.Gateway]);
            var wrong = await RunAsAsync("ops:not-the-secret-at-all", ["list", .. fixture.Gateway]);

            Assert.True(none.Code == 6, $"no credential: exit {none.Code}: {none.Err}");
            Assert.Contains("credential-required", none.Err, StringComparison.Ordinal);
            Assert.True(worker.Code == 6, $"worker credential: exit {worker.Code}: {worker.Err}");
            Assert.Contains("operator-only", worker.Err, StringComparison.Ordinal);
            Assert.True(wrong.Code == 6, $"wrong secret: exit {wrong.Code}: {wrong.Err}");
            Assert.Contains("unknown-credential", wrong.Err, StringComparison.Ordinal);
            Assert.DoesNotContain("not-the-secret-at-all", wrong.Out + wrong.Err, StringComparison.Ordinal);
            Assert.DoesNotContain(SiloHostFixture.WorkerCredential.Split(':')[1], worker.Out + worker.Err, StringComparison.Ordinal);
            Assert.Equal(before, await RowAsync(name));
            Assert.Equal(LockHandleState.Held, handle.State);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private async Task<(string State, long Epoch)> RowAsync(string name)
    {
        await using var command = fixture.Postgres.DataSource.CreateCommand("SELECT state, epoch FROM cyclelock.lease WHERE service_id = $1 AND name = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = fixture.ServiceId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetString(0), reader.GetInt64(1)) : ("none", 0);
    }

    [Fact]
    public async Task List_Inspect_Watch_ShowAHeldLock()
    {
        var name = NewName("list");
        var held = await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
        await using var handle = held.Handle!;

        var list = await Cli("list");
        Assert.True(list.Code == 0, $"list: {list.Code} {list.Err}");
        Assert.Contains(name, list.Out, StringComparison.Ordinal);
        Assert.Contains("host-tests", list.Out, StringComparison.Ordinal);

        var inspect = await Cli("inspect", name);
        Assert.True(inspect.Code == 0, $"inspect: {inspect.Code} {inspect.Err}");
        Assert.Contains("granted", inspect.Out, StringComparison.Ordinal);

        var watch = await Cli("watch", "--count", "2", "--interval", "0.2");
        Assert.True(watch.Code == 0, $"watch: {watch.Code} {watch.Err}");
        Assert.Contains(name, watch.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForceRelease_WrongEpoch_RefusedNothingChanged_RightEpoch_Released()
    {
        var name = NewName("force");
        var held = await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
        var handle = held.Handle!;
        var before = await RowAsync(name);

        var wrong = await Cli("force-release", name, "--epoch", (handle.Epoch + 7).ToString(System.Globalization.CultureInfo.InvariantCulture), "--reason", "test");
        Assert.Equal(3, wrong.Code);
        Assert.Contains("nothing changed", wrong.Err, StringComparison.Ordinal);
        Assert.Equal(before, await RowAsync(name));
        Assert.Equal(LockHandleState.Held, handle.State);

        var right = await Cli("force-release", name, "--epoch", handle.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture), "--reason", "test", "--no-delay");
        Assert.True(right.Code == 0, $"force-release: {right.Code} {right.Out} {right.Err}");
        Assert.NotEqual("held", (await RowAsync(name)).State);
        await handle.DisposeAsync();
    }

    [Fact]
    public async Task Reset_NotDead_Refused()
    {
        var name = NewName("reset");
        var result = await Cli("reset", name);
        Assert.Equal(3, result.Code);
        Assert.Contains("not dead", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hold_PrintsTheEpoch_ReleasesAfterItsTime()
    {
        var name = NewName("hold");
        var result = await Cli("hold", name, "--ttl", "10", "--for", "1");
        Assert.True(result.Code == 0, $"hold: {result.Code} {result.Err}");
        Assert.Matches(@"epoch=\d+", result.Out);
        Assert.Equal("free", (await RowAsync(name)).State);
    }

    [Fact]
    public async Task Demo_AFleetCompletesJobs()
    {
        var result = await Cli("demo", "--workers", "3", "--locks", "2", "--duration", "4", "--hold", "0.3", "--ttl", "6", "--plain", "--prefix", NewName("demo") + "-");
        Assert.True(result.Code == 0, $"demo: {result.Code} {result.Out} {result.Err}");
        Assert.Matches(@"demo: [1-9]\d* job\(s\) completed", result.Out);
    }

    [Theory]
    [InlineData("force-release", "some/lock", "--reason", "x")] // --epoch missing
    [InlineData("force-release", "some/lock", "--epoch", "abc", "--reason", "x")]
    [InlineData("no-such-command")]
    [InlineData("hold", "some/lock", "--ttl", "-5")]
    [InlineData("list", "--max", "0")]
    [InlineData("inspect", " leading-space")]
    [InlineData("hold", "some/lock", "--ttl", "10", "--for", "-5")]
    [InlineData("watch", "--interval", "0")]
    [InlineData("force-release", "some/lock", "--epoch", "0", "--reason", "x")]
    [InlineData("reset", "some/lock", "--by", "bad\u0007by")]
    [InlineData("inspect", "some/lock", "--history", "0")]
    public async Task BadArguments_ExitTwo_WithAClearError_BeforeConnecting(params string[] args)
    {
        // A gateway nobody listens on: the arguments are refused (exit 2) before a connection is tried (exit 4).
        var result = await RunAsync([.. args, "--gateway", Ports.Free().ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(result.Code == 2, $"{string.Join(' ', args)}: exit {result.Code}, stderr: {result.Err}");
        Assert.StartsWith("cyclelock:", result.Err.TrimStart(), StringComparison.Ordinal);
        Assert.Equal("none", (await RowAsync("some/lock")).State);
    }

    [Fact]
    public async Task BadGateway_ExitTwo_Unreachable_ExitFour()
    {
        var bad = await RunAsync("list", "--gateway", "not a gateway");
        Assert.Equal(2, bad.Code);
        Assert.Contains("not a gateway", bad.Err, StringComparison.Ordinal);

        var unreachable = await RunAsync("list", "--gateway", Ports.Free().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(unreachable.Code == 4, $"exit {unreachable.Code}: {unreachable.Err}");
        Assert.Contains("Could not reach the cluster", unreachable.Err, StringComparison.Ordinal);
    }
}
