using System.Globalization;
using System.Net;
using CycleLock.Testing;

namespace CycleLock.Chaos.Harness;

/// <summary>One silo process (AdoNet membership, the store through PgBouncer), restartable on the same
/// ports after a <c>kill -9</c>. Its <c>/metrics</c> is read while it runs: the renewal retries each
/// incarnation counted are kept.</summary>
public sealed class SiloNode(string name, string clusterId, ChaosSettings settings, string serviceId, string connection, bool proxied)
{
    private readonly int _siloPort = Ports.Free();
    private readonly int _gatewayPort = Ports.Free();
    private readonly int _listeningPort = Ports.Free();
    private readonly int _webPort = Ports.Free();
    private readonly Dictionary<int, (long Retries, long Moved)> _byIncarnation = [];
    private SiloProcess? _process;

    public string Name => name;

    /// <summary>The advertised gateway endpoint (where clients connect; a proxy listens there when proxied).</summary>
    public IPEndPoint Gateway => new(IPAddress.Loopback, _gatewayPort);

    /// <summary>Where the gateway really listens.</summary>
    public IPEndPoint ListeningGateway => proxied ? new(IPAddress.Loopback, _listeningPort) : Gateway;

    /// <summary>Renewal statements retried after a transient error (Polly's resilience_polly_strategy_events_total{event_name="OnRetry"} for renew and
    /// renew-many), over every incarnation.</summary>
    public long RenewRetries
    {
        get
        {
            lock (_byIncarnation)
            {
                return _byIncarnation.Values.Sum(v => v.Retries);
            }
        }
    }

    /// <summary>Activations that found their lease served elsewhere and answered moved (cyclelock_moved_total).</summary>
    public long Moved
    {
        get
        {
            lock (_byIncarnation)
            {
                return _byIncarnation.Values.Sum(v => v.Moved);
            }
        }
    }

    public async Task StartAsync()
    {
        var siloSettings = new Dictionary<string, string>
        {
            ["CycleLock:Silo:Clustering"] = "AdoNet",
            ["CycleLock:Store:RunMigrations"] = "false",
        };
        if (proxied)
        {
            siloSettings["CycleLock:Silo:GatewayListeningPort"] = _listeningPort.ToString(CultureInfo.InvariantCulture);
        }

        // Server GC as deployed; one log per silo across its incarnations.
        _process = SiloProcess.Start(connection, serviceId, siloSettings, _siloPort, _gatewayPort, _webPort, clusterId, serverGc: true, logPath: Path.Combine(settings.Directory, $"{name}.log"), siloDll: settings.SiloDll);
        await _process.WaitHealthyAsync(TimeSpan.FromSeconds(60), "/health/live");
    }

    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            await ScrapeAsync();
            await process.KillAsync();
            await process.DisposeAsync();
            _process = null;
        }
    }

    /// <summary>Reads the renewal retries (Polly's resilience_polly_strategy_events_total{event_name="OnRetry"} for renew and renew-many) this
    /// incarnation counted so far.</summary>
    public async Task ScrapeAsync()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var lines = (await http.GetStringAsync($"http://127.0.0.1:{_webPort}/metrics")).Split('\n');
            var retries = Sum(lines.Where(l => l.StartsWith("resilience_polly_strategy_events_total{", StringComparison.Ordinal) && l.Contains("event_name=\"OnRetry\"", StringComparison.Ordinal) && (l.Contains("op=\"renew\"", StringComparison.Ordinal) || l.Contains("op=\"renew-many\"", StringComparison.Ordinal))));
            var moved = Sum(lines.Where(l => l.StartsWith("cyclelock_moved_total", StringComparison.Ordinal)));
            lock (_byIncarnation)
            {
                var known = _byIncarnation.GetValueOrDefault(process.Pid);
                _byIncarnation[process.Pid] = (Math.Max(retries, known.Retries), Math.Max(moved, known.Moved));
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or FormatException)
        {
        }
    }

    private static long Sum(IEnumerable<string> samples) =>
        samples.Sum(l => (long)double.Parse((l.Contains('}', StringComparison.Ordinal) ? l[(l.LastIndexOf('}') + 1)..] : l[l.IndexOf(' ', StringComparison.Ordinal)..]).Trim().Split(' ')[0], CultureInfo.InvariantCulture));

    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            await ScrapeAsync();
            await process.DisposeAsync();
            _process = null;
        }
    }
}
