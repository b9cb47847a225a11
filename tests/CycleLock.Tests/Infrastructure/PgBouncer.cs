using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CycleLock.Tests.Infrastructure;

/// <summary>
/// A real PgBouncer (Debian's 1.18) in transaction mode in front of a test PostgreSQL, started by the test
/// as the <c>postgres</c> user on a free loopback port, with <c>server_login_retry = 1</c> and
/// <c>log_disconnections = 1</c>. Can be paused, resumed, stopped and restarted on the same port.
/// </summary>
public sealed class PgBouncer : IAsyncDisposable
{
    private readonly PostgresFixture _postgres;
    private readonly string _directory;
    private bool _running;

    private PgBouncer(PostgresFixture postgres, string directory, int port)
    {
        _postgres = postgres;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string LogPath => Path.Combine(_directory, "pgbouncer.log");

    /// <summary>A connection string through the pooler (no pooler-safe settings added: the store adds them when asked).</summary>
    public string ConnectionString(string user = "postgres", string? password = null, string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username={user};Database={database};Timeout=5" + (password is null ? string.Empty : $";Password={password}");

    public static async Task<PgBouncer> StartAsync(PostgresFixture postgres, TimeSpan? clientIdleTimeout = null, string authType = "trust", string? password = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cyclelock-pgb-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        var port = FreePort();
        var idle = (clientIdleTimeout ?? TimeSpan.Zero).TotalSeconds.ToString(CultureInfo.InvariantCulture);
        await File.WriteAllTextAsync(Path.Combine(directory, "userlist.txt"), $"\"postgres\" \"{password ?? string.Empty}\"\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "pgbouncer.ini"), $"""
            [databases]
            postgres = host=127.0.0.1 port={new Npgsql.NpgsqlConnectionStringBuilder(postgres.ConnectionString).Port} dbname=postgres

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {port}
            unix_socket_dir =
            auth_type = {authType}
            auth_file = {directory}/userlist.txt
            pool_mode = transaction
            max_client_conn = 500
            default_pool_size = 40
            server_login_retry = 1
            query_wait_timeout = 30
            client_idle_timeout = {idle}
            log_connections = 0
            log_disconnections = 1
            logfile = {directory}/pgbouncer.log
            pidfile = {directory}/pgbouncer.pid
            admin_users = postgres
            ignore_startup_parameters = extra_float_digits,options
            """);
        if (postgres.RunsAsPostgresUser)
        {
            await postgres.RunToolAsync("chown", ["-R", "postgres", directory], asPostgres: false);
        }

        var bouncer = new PgBouncer(postgres, directory, port);
        await bouncer.StartAsync();
        return bouncer;
    }

    public async Task StartAsync()
    {
        var pgbouncer = PostgresFixture.Which("pgbouncer") ?? throw new InvalidOperationException("pgbouncer is not installed: apt-get install -y pgbouncer (deploy/test.sh does it when run as root).");
        await _postgres.RunToolAsync(pgbouncer, ["-d", Path.Combine(_directory, "pgbouncer.ini")]);
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                _running = true;
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        throw new InvalidOperationException($"PgBouncer did not listen on {Port}: {await File.ReadAllTextAsync(LogPath)}");
    }

    /// <summary>Stops PgBouncer at once (SIGTERM: connections are closed).</summary>
    public async Task StopAsync()
    {
        var pidFile = Path.Combine(_directory, "pgbouncer.pid");
        if (!_running || !File.Exists(pidFile))
        {
            return;
        }

        var pid = (await File.ReadAllTextAsync(pidFile)).Trim();
        await _postgres.RunToolAsync("kill", ["-TERM", pid], throwOnError: false);
        for (var i = 0; i < 100 && File.Exists(pidFile); i++)
        {
            await Task.Delay(50);
        }

        _running = false;
    }

    public Task PauseAsync() => AdminAsync("PAUSE postgres");

    public Task ResumeAsync() => AdminAsync("RESUME postgres");

    public async Task<int> CountLogAsync(string text)
    {
        var log = await ReadLogAsync();
        return log.Split('\n').Count(line => line.Contains(text, StringComparison.Ordinal));
    }

    public async Task<string> ReadLogAsync()
    {
        await using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task AdminAsync(string command)
    {
        var psql = PostgresFixture.Which("psql") ?? throw new InvalidOperationException("psql is not installed (apt-get install -y postgresql-client).");
        await _postgres.RunToolAsync(psql, ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-d", "pgbouncer", "-c", command]);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
