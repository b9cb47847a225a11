using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CycleLock.Testing;

/// <summary>
/// A real PgBouncer (Debian's 1.18) in transaction mode in front of a local PostgreSQL, on a free loopback port,
/// run as the <c>postgres</c> user when this process is root, with <c>server_login_retry = 1</c> and
/// <c>log_disconnections = 1</c> (a test counts the idle clients it reaps). Can be paused, resumed, stopped
/// (SIGTERM, which closes every connection at once) and started again on the same port.
/// </summary>
public sealed class PgBouncer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly bool _temporary;

    private PgBouncer(string directory, bool temporary, int port)
    {
        _directory = directory;
        _temporary = temporary;
        Port = port;
    }

    /// <summary>The loopback port it listens on (the same after a restart).</summary>
    public int Port { get; }

    /// <summary>Its log (connections it closed, and why).</summary>
    public string LogPath => Path.Combine(_directory, "pgbouncer.log");

    private string PidFile => Path.Combine(_directory, "pgbouncer.pid");

    /// <summary>A connection string through the pooler (no pooler-safe settings added: the store adds them when asked).</summary>
    public string ConnectionString(string user = "postgres", string? password = null, string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username={user};Database={database};Timeout=5" + (password is null ? string.Empty : $";Password={password}");

    /// <summary>
    /// Writes a configuration for database <c>postgres</c> on <paramref name="postgresPort"/> into
    /// <paramref name="directory"/> (kept afterwards, for its log), or a new temporary folder removed on dispose,
    /// and starts PgBouncer. <paramref name="clientIdleTimeout"/> closes idle clients (zero: never);
    /// <paramref name="authType"/> <c>md5</c> with <paramref name="password"/> makes it check the user's password.
    /// </summary>
    public static async Task<PgBouncer> StartAsync(
        int postgresPort,
        TimeSpan? clientIdleTimeout = null,
        string authType = "trust",
        string? password = null,
        int maxClientConnections = 500,
        int defaultPoolSize = 40,
        string? directory = null)
    {
        var bouncer = new PgBouncer(directory ?? Path.Combine(Path.GetTempPath(), "cyclelock-pgb-" + Guid.NewGuid().ToString("N")[..8]), directory is null, Ports.Free());
        var dir = bouncer._directory;
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "userlist.txt"), $"\"postgres\" \"{password ?? string.Empty}\"\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "pgbouncer.ini"), string.Create(CultureInfo.InvariantCulture, $"""
            [databases]
            postgres = host=127.0.0.1 port={postgresPort} dbname=postgres

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {bouncer.Port}
            unix_socket_dir =
            auth_type = {authType}
            auth_file = {dir}/userlist.txt
            pool_mode = transaction
            max_client_conn = {maxClientConnections}
            default_pool_size = {defaultPoolSize}
            server_login_retry = 1
            query_wait_timeout = 30
            client_idle_timeout = {(clientIdleTimeout ?? TimeSpan.Zero).TotalSeconds}
            log_connections = 0
            log_disconnections = 1
            logfile = {dir}/pgbouncer.log
            pidfile = {dir}/pgbouncer.pid
            admin_users = postgres
            ignore_startup_parameters = extra_float_digits,options
            """));
        if (Tools.RunsAsRoot)
        {
            await Tools.RunAsync("chown", ["-R", "postgres", dir]);
        }

        await bouncer.StartAsync();
        return bouncer;
    }

    /// <summary>Starts it (again) as a daemon and waits until it accepts connections.</summary>
    public async Task StartAsync()
    {
        var pgbouncer = Tools.Which("pgbouncer") ?? throw new InvalidOperationException("pgbouncer is not installed: apt-get install -y pgbouncer (deploy/test.sh and deploy/chaos do it when run as root).");
        await Tools.RunAsync(pgbouncer, ["-d", Path.Combine(_directory, "pgbouncer.ini")], asPostgres: true);
        for (var i = 0; i < 200; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(25);
            }
        }

        throw new InvalidOperationException($"PgBouncer did not listen on {Port}: {await ReadLogAsync()}");
    }

    /// <summary>Stops it at once (SIGTERM: connections are closed); throws when it is still running 5 s later.</summary>
    public async Task StopAsync()
    {
        if (!File.Exists(PidFile))
        {
            return;
        }

        await Tools.SignalAsync(int.Parse((await File.ReadAllTextAsync(PidFile)).Trim(), CultureInfo.InvariantCulture), Signal.Term);
        for (var i = 0; i < 200 && File.Exists(PidFile); i++)
        {
            await Task.Delay(25);
        }

        if (File.Exists(PidFile))
        {
            // A newer PgBouncer waits for its clients on SIGTERM: then this would be no restart.
            throw new InvalidOperationException("PgBouncer did not stop within 5 s of SIGTERM");
        }
    }

    /// <summary><c>PAUSE</c>: statements in flight finish, new ones wait.</summary>
    public Task PauseAsync() => AdminAsync("PAUSE postgres");

    /// <summary><c>RESUME</c>: the waiting statements go on.</summary>
    public Task ResumeAsync() => AdminAsync("RESUME postgres");

    /// <summary>How many lines of its log contain <paramref name="text"/>.</summary>
    public async Task<int> CountLogAsync(string text) =>
        (await ReadLogAsync()).Split('\n').Count(line => line.Contains(text, StringComparison.Ordinal));

    /// <summary>Its log so far.</summary>
    public async Task<string> ReadLogAsync()
    {
        if (!File.Exists(LogPath))
        {
            return string.Empty;
        }

        await using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    /// <summary>Stops it and removes a temporary folder.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_temporary)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task AdminAsync(string command)
    {
        var psql = Tools.Which("psql") ?? throw new InvalidOperationException("psql is not installed (apt-get install -y postgresql-client).");
        await Tools.RunAsync(psql, ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-d", "pgbouncer", "-c", command], asPostgres: true);
    }
}
