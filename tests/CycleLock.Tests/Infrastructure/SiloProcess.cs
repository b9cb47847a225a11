using System.Diagnostics;
using System.Text;

namespace CycleLock.Tests.Infrastructure;

/// <summary>
/// A CycleLock silo as a separate process (the built <c>CycleLock.Silo.dll</c>), configured through
/// environment variables like a deployment. <see cref="Kill"/> is <c>kill -9</c>.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SiloProcess(Process process, int siloPort, int gatewayPort, int webPort)
    {
        _process = process;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        WebPort = webPort;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public int WebPort { get; }

    public string WebUrl => $"http://127.0.0.1:{WebPort}";

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts a silo. <paramref name="settings"/> are configuration keys (<c>CycleLock:Silo:Clustering</c>…).</summary>
    public static SiloProcess Start(string connectionString, string serviceId, IDictionary<string, string>? settings = null, int? siloPort = null, int? gatewayPort = null, int? webPort = null)
    {
        var (silo, gateway, web) = (siloPort ?? Ports.Free(), gatewayPort ?? Ports.Free(), webPort ?? Ports.Free());
        var start = new ProcessStartInfo("dotnet", [BuildOutput.Of("src/Silo", "CycleLock.Silo.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var env = start.Environment;
        env["CycleLock__ConnectionString"] = connectionString;
        env["CycleLock__Silo__ServiceId"] = serviceId;
        env["CycleLock__Silo__ClusterId"] = "test";
        env["CycleLock__Silo__SiloPort"] = silo.ToString(System.Globalization.CultureInfo.InvariantCulture);
        env["CycleLock__Silo__GatewayPort"] = gateway.ToString(System.Globalization.CultureInfo.InvariantCulture);
        env["CycleLock__Web__Url"] = $"http://127.0.0.1:{web}";
        env["Logging__LogLevel__Default"] = "Warning";
        env["DOTNET_gcServer"] = "0";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            env[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        return new SiloProcess(Process.Start(start)!, silo, gateway, web);
    }

    /// <summary>Waits until <c>/health</c> answers 200 (the database and membership are healthy).</summary>
    public async Task WaitHealthyAsync(TimeSpan within)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var until = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"silo exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                if ((await http.GetAsync($"{WebUrl}/health")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            if (Stopwatch.GetTimestamp() > until)
            {
                throw new TimeoutException($"silo on gateway {GatewayPort} not healthy after {within}:\n{Output}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Waits for the process to end on its own (a start refused by configuration) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        await _process.WaitForExitAsync(timeout.Token);
        await Task.Delay(100); // let the output readers drain
        return _process.ExitCode;
    }

    /// <summary><c>kill -9</c>: no shutdown, no goodbye to the cluster.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>A graceful stop (SIGTERM) and its exit code.</summary>
    public async Task<int> StopAsync(TimeSpan within)
    {
        if (!_process.HasExited)
        {
            using var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await term.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(within);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Kill();
                await _process.WaitForExitAsync();
            }
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
