using System.Diagnostics;
using System.Globalization;
using CliWrap.Buffered;

namespace CycleLock.Testing;

/// <summary>
/// A throwaway PostgreSQL cluster: initdb in a folder, one server on a free loopback port with its socket in
/// that folder, run as the <c>postgres</c> user when this process is root (PostgreSQL refuses root). Always
/// <c>synchronous_commit = on</c> (an acknowledged commit is durable, as the lease rules assume) and 300
/// connections; callers add settings of their own (the tests trade durability for speed, chaos orders
/// commits by <c>track_commit_timestamp</c>). Stops and restarts on the same port with <c>pg_ctl</c>.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly string _binDirectory;
    private readonly bool _temporary;
    private readonly IReadOnlyList<string> _settings;

    private PostgresCluster(string binDirectory, string directory, bool temporary, IReadOnlyList<string> settings)
    {
        _binDirectory = binDirectory;
        Directory = directory;
        _temporary = temporary;
        _settings = settings;
    }

    /// <summary>The cluster's folder: <c>data/</c>, <c>pg.log</c> and the server's socket.</summary>
    public string Directory { get; }

    /// <summary>The loopback port the server listens on (the same after a restart).</summary>
    public int Port { get; private set; }

    /// <summary>The superuser <c>postgres</c> on database <c>postgres</c>, trusted: callers append pool and timeout settings.</summary>
    public string ConnectionString => string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres");

    private string Data => Path.Combine(Directory, "data");

    private string Log => Path.Combine(Directory, "pg.log");

    /// <summary>
    /// Creates and starts a cluster in <paramref name="directory"/> (kept afterwards, for its log), or in a new
    /// temporary folder removed on dispose when none is given. <paramref name="settings"/> are extra server
    /// settings, <c>name=value</c> each (<c>fsync=off</c>).
    /// </summary>
    public static async Task<PostgresCluster> StartAsync(string? directory = null, IEnumerable<string>? settings = null)
    {
        var cluster = new PostgresCluster(
            FindBinDirectory(),
            directory ?? Path.Combine(Path.GetTempPath(), "cyclelock-pg-" + Guid.NewGuid().ToString("N")[..8]),
            directory is null,
            [.. settings ?? []]);
        System.IO.Directory.CreateDirectory(cluster.Directory);
        if (Tools.RunsAsRoot)
        {
            await Tools.RunAsync("chown", ["-R", "postgres", cluster.Directory]);
        }

        await Tools.RunAsync(cluster.Tool("initdb"), ["-D", cluster.Data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], asPostgres: true);

        // A free port may be taken between choosing it and the server binding it: choose again.
        for (var attempt = 0; ; attempt++)
        {
            cluster.Port = Ports.Free();
            var started = await cluster.PgCtlAsync(cluster.StartArguments(), throwOnError: false);
            if (started.ExitCode == 0)
            {
                return cluster;
            }

            if (attempt >= 3)
            {
                var log = File.Exists(cluster.Log) ? await File.ReadAllTextAsync(cluster.Log) : string.Empty;
                throw new InvalidOperationException($"PostgreSQL did not start on port {cluster.Port}: {started.StandardOutput}{started.StandardError}\n{log}");
            }
        }
    }

    /// <summary>Starts the server again after <see cref="StopAsync"/>, on the same port with the same settings.</summary>
    public Task StartServerAsync() => PgCtlAsync(StartArguments(), throwOnError: true);

    /// <summary><c>pg_ctl stop -m fast|immediate</c>: fast ends every session cleanly, immediate is a crash.</summary>
    public Task StopAsync(string mode = "fast", bool throwOnError = false) =>
        PgCtlAsync(["-D", Data, "-m", mode, "-w", "-t", "60", "stop"], throwOnError);

    /// <summary>Stops the server with <paramref name="mode"/>, stays down for <paramref name="downtime"/>, starts it
    /// again; returns how long it was unavailable.</summary>
    public async Task<TimeSpan> RestartAsync(string mode, TimeSpan downtime)
    {
        var watch = Stopwatch.StartNew();
        await StopAsync(mode, throwOnError: true);
        await Task.Delay(downtime);
        await StartServerAsync();
        return watch.Elapsed;
    }

    /// <summary>Makes <paramref name="role"/> (and it alone: everyone else stays trusted) authenticate with its
    /// password (scram-sha-256), so a password is really checked and a wrong one refused.</summary>
    public async Task RequirePasswordAsync(string role)
    {
        var hba = Path.Combine(Data, "pg_hba.conf");
        var rules = $"local all {role} scram-sha-256\nhost all {role} 127.0.0.1/32 scram-sha-256\nhost all {role} ::1/128 scram-sha-256\n";
        await File.WriteAllTextAsync(hba, rules + await File.ReadAllTextAsync(hba)); // first match wins
        await PgCtlAsync(["-D", Data, "reload"], throwOnError: true);
    }

    /// <summary>Stops the server at once (immediate) and removes a temporary folder.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync("immediate");
        if (_temporary)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    // Debian keeps the server programs in a versioned folder off PATH; take the newest unless PATH names one.
    private static string FindBinDirectory()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            {
                return dir;
            }
        }

        var candidates = System.IO.Directory.Exists("/usr/lib/postgresql")
            ? System.IO.Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).Order().ToList()
            : [];
        return candidates.Count > 0
            ? candidates[^1]
            : throw new InvalidOperationException("PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or in /usr/lib/postgresql/*/bin. Install them: apt-get install -y postgresql (deploy/test.sh and deploy/chaos do it when run as root).");
    }

    // -l: otherwise the postmaster inherits (and holds open) pg_ctl's output pipe, and pg_ctl's output is never done.
    private string[] StartArguments()
    {
        var options = string.Create(CultureInfo.InvariantCulture, $"-c listen_addresses=127.0.0.1 -p {Port} -k {Directory} -c synchronous_commit=on -c max_connections=300")
            + string.Concat(_settings.Select(s => " -c " + s));
        return ["-D", Data, "-l", Log, "-w", "-t", "60", "-o", options, "start"];
    }

    private Task<BufferedCommandResult> PgCtlAsync(string[] arguments, bool throwOnError) =>
        Tools.RunAsync(Tool("pg_ctl"), arguments, asPostgres: true, throwOnError: throwOnError);

    private string Tool(string name) => Path.Combine(_binDirectory, name);
}
