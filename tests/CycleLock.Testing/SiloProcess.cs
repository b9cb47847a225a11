using System.Diagnostics;
using System.Globalization;

namespace CycleLock.Testing;

/// <summary>
/// A CycleLock silo as its own process (the built <c>CycleLock.Silo.dll</c>), configured through environment
/// variables like a deployment. <see cref="KillAsync"/> is <c>kill -9</c>; <see cref="StopAsync"/> is the
/// SIGTERM a service manager sends.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly ManagedProcess _process;

    private SiloProcess(ManagedProcess process, int siloPort, int gatewayPort, int webPort)
    {
        _process = process;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        WebPort = webPort;
    }

    /// <summary>The silo-to-silo port (it names the silo in membership and in activation addresses).</summary>
    public int SiloPort { get; }

    /// <summary>The advertised gateway port (where clients connect).</summary>
    public int GatewayPort { get; }

    /// <summary>The web host's port (/health, /metrics, the lease view).</summary>
    public int WebPort { get; }

    /// <summary>The web host's address.</summary>
    public string WebUrl => $"http://127.0.0.1:{WebPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Its process id.</summary>
    public int Pid => _process.Pid;

    /// <summary>It has exited.</summary>
    public bool HasExited => _process.Exited;

    /// <summary>What it printed so far (its log file's content when started with one).</summary>
    public string Output => _process.Output;

    /// <summary>
    /// Starts a silo of cluster <paramref name="clusterId"/>. <paramref name="settings"/> are configuration keys
    /// (<c>CycleLock:Silo:Clustering</c>…), applied after the defaults here so they may override them; ports not
    /// given are free ones. <paramref name="serverGc"/> keeps the silo's own server GC (a heap per core), which
    /// several silos on one small test machine are better without. Output goes to <paramref name="logPath"/>
    /// (appended, so a restarted silo keeps one log) or to memory; <paramref name="onErrorLine"/> sees each line of
    /// standard error (a crash: the console logger writes to standard output).
    /// </summary>
    public static SiloProcess Start(
        string connectionString,
        string serviceId,
        IReadOnlyDictionary<string, string>? settings = null,
        int? siloPort = null,
        int? gatewayPort = null,
        int? webPort = null,
        string clusterId = "test",
        bool serverGc = false,
        string? logPath = null,
        Action<string>? onErrorLine = null,
        string? siloDll = null)
    {
        var (silo, gateway, web) = (siloPort ?? Ports.Free(), gatewayPort ?? Ports.Free(), webPort ?? Ports.Free());
        var environment = new Dictionary<string, string>
        {
            ["CycleLock__ConnectionString"] = connectionString,
            ["CycleLock__Silo__ServiceId"] = serviceId,
            ["CycleLock__Silo__ClusterId"] = clusterId,
            ["CycleLock__Silo__SiloPort"] = silo.ToString(CultureInfo.InvariantCulture),
            ["CycleLock__Silo__GatewayPort"] = gateway.ToString(CultureInfo.InvariantCulture),
            ["CycleLock__Web__Url"] = $"http://127.0.0.1:{web.ToString(CultureInfo.InvariantCulture)}",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        if (!serverGc)
        {
            environment["DOTNET_gcServer"] = "0";
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = ManagedProcess.Start("silo", "dotnet", [siloDll ?? BuildOutput.Of("src/Silo", "CycleLock.Silo.dll")], environment, logPath, onErrorLine);
        return new SiloProcess(process, silo, gateway, web);
    }

    /// <summary>Waits until <paramref name="path"/> answers 200: <c>/health</c> (the database and membership are
    /// healthy) or <c>/health/live</c> (the process serves).</summary>
    public async Task WaitHealthyAsync(TimeSpan within, string path = "/health")
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var until = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (_process.Exited)
            {
                throw new InvalidOperationException($"silo exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                if ((await http.GetAsync($"{WebUrl}{path}")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            if (Stopwatch.GetTimestamp() > until)
            {
                throw new TimeoutException($"silo on gateway {GatewayPort} not healthy ({path}) after {within}:\n{Output}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Waits for the process to end on its own (a start refused by configuration) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan within) =>
        await _process.WaitForExitAsync(within) ? _process.ExitCode : throw new TimeoutException($"silo still running after {within}:\n{Output}");

    /// <summary><c>kill -9</c>: no shutdown, no goodbye to the cluster.</summary>
    public Task KillAsync() => _process.KillAsync();

    /// <summary>A graceful stop (SIGTERM) and its exit code; killed when it is not gone within <paramref name="within"/>.</summary>
    public async Task<int> StopAsync(TimeSpan within)
    {
        if (!_process.Exited)
        {
            try
            {
                await _process.SignalAsync(Signal.Term);
            }
            catch (InvalidOperationException)
            {
                // Gone between the check and the signal: its exit code is read below.
            }

            if (!await _process.WaitForExitAsync(within))
            {
                await _process.KillAsync();
            }
        }

        return _process.ExitCode;
    }

    /// <summary>Its resident set size in bytes (from /proc).</summary>
    public long ResidentBytes()
    {
        var status = File.ReadAllLines($"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(status.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>Kills it if it still runs.</summary>
    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
