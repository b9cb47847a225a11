using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CycleLock.Chaos.Harness;

/// <summary>A real PgBouncer in transaction mode in front of the run's PostgreSQL; stopped (SIGTERM) and
/// started again on the same port by the <c>pgbouncer-restart</c> fault.</summary>
public sealed class LocalPgBouncer(string directory, int port)
{
    public int Port => port;

    public string ConnectionString => $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=5";

    public static async Task<LocalPgBouncer> StartAsync(string directory, int postgresPort)
    {
        Directory.CreateDirectory(directory);
        var bouncer = new LocalPgBouncer(directory, Shell.FreePort());
        await File.WriteAllTextAsync(Path.Combine(directory, "userlist.txt"), "\"postgres\" \"\"\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "pgbouncer.ini"), string.Create(CultureInfo.InvariantCulture, $"""
            [databases]
            postgres = host=127.0.0.1 port={postgresPort} dbname=postgres

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {bouncer.Port}
            unix_socket_dir =
            auth_type = trust
            auth_file = {directory}/userlist.txt
            pool_mode = transaction
            max_client_conn = 1000
            default_pool_size = 60
            server_login_retry = 1
            query_wait_timeout = 30
            log_connections = 0
            log_disconnections = 0
            logfile = {directory}/pgbouncer.log
            pidfile = {directory}/pgbouncer.pid
            admin_users = postgres
            ignore_startup_parameters = extra_float_digits,options
            """));
        if (Shell.IsRoot)
        {
            await Shell.RunAsync("chown", ["-R", "postgres", directory]);
        }

        await bouncer.StartAsync();
        return bouncer;
    }

    public async Task StartAsync()
    {
        var pgbouncer = Shell.Which("pgbouncer") ?? throw new InvalidOperationException("pgbouncer is not installed: apt-get install -y pgbouncer (deploy/chaos does it when run as root).");
        await Shell.RunAsync(pgbouncer, ["-d", Path.Combine(directory, "pgbouncer.ini")], asPostgres: true);
        for (var i = 0; i < 200; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(25);
            }
        }

        throw new InvalidOperationException($"PgBouncer did not listen on {port}");
    }

    public async Task StopAsync()
    {
        var pidFile = Path.Combine(directory, "pgbouncer.pid");
        if (!File.Exists(pidFile))
        {
            return;
        }

        Shell.Signal(int.Parse((await File.ReadAllTextAsync(pidFile)).Trim(), CultureInfo.InvariantCulture), Shell.SigTerm);
        for (var i = 0; i < 200 && File.Exists(pidFile); i++)
        {
            await Task.Delay(25);
        }

        if (File.Exists(pidFile))
        {
            // A newer PgBouncer waits for clients on SIGTERM: then this was no restart.
            throw new InvalidOperationException("PgBouncer did not stop within 5 s of SIGTERM");
        }
    }
}
