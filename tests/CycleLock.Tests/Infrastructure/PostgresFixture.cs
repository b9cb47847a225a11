using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CycleLock.Persistence;
using Npgsql;

[assembly: AssemblyFixture(typeof(CycleLock.Tests.Infrastructure.PostgresFixture))]

namespace CycleLock.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL for the test run. Uses <c>CYCLELOCK_TEST_CONNECTION</c> when set; otherwise
/// starts a throwaway cluster itself (initdb + pg_ctl in a temp folder, a free loopback port, as the
/// <c>postgres</c> user when running as root) and removes it afterwards. The schema is migrated once;
/// tests isolate themselves by ServiceId (every row is namespaced by it).
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private readonly bool _ownCluster;
    private string? _directory;
    private string? _binDirectory;
    private bool _asPostgresUser;
    private string? _startOptions;

    /// <summary>The shared fixture: uses <c>CYCLELOCK_TEST_CONNECTION</c> when set.</summary>
    public PostgresFixture()
        : this(ownCluster: false)
    {
    }

    /// <summary>With <paramref name="ownCluster"/>, always starts a cluster of its own (fault tests restart it).</summary>
    internal PostgresFixture(bool ownCluster) => _ownCluster = ownCluster;

    public string ConnectionString { get; private set; } = string.Empty;

    public string Directory => _directory ?? throw new InvalidOperationException("This fixture uses an external PostgreSQL.");

    public bool RunsAsPostgresUser => _asPostgresUser;

    /// <summary>The fixture started this cluster itself (and so controls its configuration).</summary>
    public bool OwnsCluster => _directory is not null;

    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public int Port { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var given = _ownCluster ? null : Environment.GetEnvironmentVariable("CYCLELOCK_TEST_CONNECTION");
        if (!string.IsNullOrWhiteSpace(given))
        {
            ConnectionString = given;
        }
        else
        {
            await StartClusterAsync();
        }

        DataSource = NpgsqlDataSource.Create(ConnectionString);
        await MigrationRunner.MigrateAsync(DataSource);
    }

    public async ValueTask DisposeAsync()
    {
        if (DataSource is not null)
        {
            await DataSource.DisposeAsync();
        }

        if (_directory is not null)
        {
            await RunAsync(Tool("pg_ctl"), ["-D", Path.Combine(_directory, "data"), "-m", "immediate", "-w", "stop"], throwOnError: false);
            try
            {
                System.IO.Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A data source with its own pool (for tests that hold connections open).</summary>
    public NpgsqlDataSource CreateDataSource(Action<NpgsqlConnectionStringBuilder>? configure = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        configure?.Invoke(builder);
        return NpgsqlDataSource.Create(builder.ConnectionString);
    }

    private async Task StartClusterAsync()
    {
        _binDirectory = FindBinDirectory();
        _asPostgresUser = Environment.UserName == "root";
        _directory = Path.Combine(Path.GetTempPath(), "cyclelock-pg-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(_directory);
        if (_asPostgresUser)
        {
            await RunAsync("chown", ["-R", "postgres", _directory], throwOnError: true, asPostgres: false);
        }

        var data = Path.Combine(_directory, "data");
        await RunAsync(Tool("initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], throwOnError: true);
        for (var attempt = 0; ; attempt++)
        {
            Port = FreePort();
            var options = $"-c listen_addresses=127.0.0.1 -p {Port} -k {_directory} -c fsync=off -c full_page_writes=off -c max_connections=300 -c synchronous_commit=on";
            var (code, output) = await RunAsync(Tool("pg_ctl"), ["-D", data, "-l", Path.Combine(_directory, "pg.log"), "-w", "-t", "60", "-o", options, "start"], throwOnError: false);
            if (code == 0)
            {
                _startOptions = options;
                break;
            }

            if (attempt >= 3)
            {
                var log = File.Exists(Path.Combine(_directory, "pg.log")) ? await File.ReadAllTextAsync(Path.Combine(_directory, "pg.log")) : string.Empty;
                throw new InvalidOperationException($"PostgreSQL did not start on port {Port}: {output}\n{log}");
            }
        }

        ConnectionString = $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Maximum Pool Size=100;Timeout=15;Command Timeout=30";
    }

    /// <summary>
    /// Creates a superuser login <paramref name="role"/> with <paramref name="password"/> and returns a
    /// connection string for it. On the fixture's own cluster (otherwise all <c>trust</c>) that role alone
    /// must authenticate with its password (scram-sha-256), so the password is really used and a wrong one is
    /// refused. Both are letters and digits only: they are written into SQL and pg_hba.conf as they are.
    /// </summary>
    public async Task<string> CreatePasswordLoginAsync(string role, string password)
    {
        if (role.Length == 0 || !char.IsAsciiLetterLower(role[0]) || !role.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)) || !password.All(char.IsAsciiLetterOrDigit))
        {
            throw new ArgumentException($"Role '{role}' must be lower-case letters and digits starting with a letter, the password letters and digits.", nameof(role));
        }

        await using (var create = DataSource.CreateCommand($"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'"))
        {
            await create.ExecuteNonQueryAsync();
        }

        if (_directory is not null)
        {
            var hba = Path.Combine(_directory, "data", "pg_hba.conf");
            var rules = $"local all {role} scram-sha-256\nhost all {role} 127.0.0.1/32 scram-sha-256\nhost all {role} ::1/128 scram-sha-256\n";
            await File.WriteAllTextAsync(hba, rules + await File.ReadAllTextAsync(hba)); // first match wins
            await using var reload = DataSource.CreateCommand("SELECT pg_reload_conf()");
            await reload.ExecuteScalarAsync();
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString) { Username = role, Password = password }.ConnectionString;
    }

    /// <summary>Drops a role made by <see cref="CreatePasswordLoginAsync"/>, best effort (an external server keeps no litter).</summary>
    public async Task DropLoginAsync(string role)
    {
        try
        {
            await using var drop = DataSource.CreateCommand($"DROP ROLE IF EXISTS {role}");
            await drop.ExecuteNonQueryAsync();
        }
        catch (PostgresException)
        {
            // Still connected or owning objects: left for the throwaway cluster's removal.
        }
    }

    /// <summary>Stops the server with <c>pg_ctl stop -m fast|immediate</c>, stays down for <paramref name="downtime"/>,
    /// and starts it again on the same port with the same options; returns how long it was unavailable.</summary>
    public async Task<TimeSpan> RestartAsync(string mode, TimeSpan downtime)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var data = Path.Combine(Directory, "data");
        await RunAsync(Tool("pg_ctl"), ["-D", data, "-m", mode, "-w", "-t", "60", "stop"], throwOnError: true);
        await Task.Delay(downtime);

        // -l: otherwise the new postmaster inherits (and holds open) this process's output pipe.
        await RunAsync(Tool("pg_ctl"), ["-D", data, "-l", Path.Combine(Directory, "pg.log"), "-w", "-t", "60", "-o", _startOptions!, "start"], throwOnError: true);
        return watch.Elapsed;
    }

    /// <summary>Runs a tool as the user the cluster runs as (for PgBouncer and psql).</summary>
    public Task<(int Code, string Output)> RunToolAsync(string file, string[] args, bool throwOnError = true, bool asPostgres = true) =>
        RunAsync(file, args, throwOnError, asPostgres && _asPostgresUser);

    /// <summary>Finds a PostgreSQL or PgBouncer program on PATH or in the usual Debian folders.</summary>
    public static string? Which(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin"]))
        {
            if (File.Exists(Path.Combine(dir, name)))
            {
                return Path.Combine(dir, name);
            }
        }

        return null;
    }

    private string Tool(string name) => _binDirectory is null ? name : Path.Combine(_binDirectory, name);

    private static string? FindBinDirectory()
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
            : throw new InvalidOperationException("PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or in /usr/lib/postgresql/*/bin. Install them: apt-get install -y postgresql, or set CYCLELOCK_TEST_CONNECTION.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task<(int Code, string Output)> RunAsync(string file, string[] args, bool throwOnError, bool? asPostgres = null)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        if (asPostgres ?? _asPostgresUser)
        {
            info.FileName = "runuser";
            info.ArgumentList.Add("-u");
            info.ArgumentList.Add("postgres");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(file);
        }
        else
        {
            info.FileName = file;
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout + await stderr;
        if (throwOnError && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {output}");
        }

        return (process.ExitCode, output);
    }
}
