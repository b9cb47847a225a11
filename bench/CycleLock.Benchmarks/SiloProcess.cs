using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CycleLock.Benchmarks;

/// <summary>The silo under test, as its own process (the built CycleLock.Silo.dll), localhost clustering.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;

    private SiloProcess(Process process, int gatewayPort, int webPort)
    {
        _process = process;
        GatewayPort = gatewayPort;
        WebPort = webPort;
    }

    public int GatewayPort { get; }

    public int WebPort { get; }

    public static async Task<SiloProcess> StartAsync(string connectionString, string serviceId)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var root = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(root, "src", "Silo", "bin", configuration, "net10.0", "CycleLock.Silo.dll");
        var (silo, gateway, web) = (FreePort(), FreePort(), FreePort());
        var start = new ProcessStartInfo("dotnet", [dll]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["CycleLock__ConnectionString"] = connectionString;
        start.Environment["CycleLock__Silo__ServiceId"] = serviceId;
        start.Environment["CycleLock__Silo__ClusterId"] = "bench";
        start.Environment["CycleLock__Silo__SiloPort"] = silo.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["CycleLock__Silo__GatewayPort"] = gateway.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["CycleLock__Web__Url"] = $"http://127.0.0.1:{web}";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"[silo] {e.Data}"); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var result = new SiloProcess(process, gateway, web);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 300; i++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the silo exited with {process.ExitCode}");
            }

            try
            {
                if ((await http.GetAsync($"http://127.0.0.1:{web}/health")).IsSuccessStatusCode)
                {
                    return result;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("the silo did not become healthy");
    }

    /// <summary>The silo's resident set size in bytes (from /proc).</summary>
    public long ResidentBytes()
    {
        var status = File.ReadAllLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(status.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
