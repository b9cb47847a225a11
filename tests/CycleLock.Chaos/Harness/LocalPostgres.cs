using System.Globalization;

namespace CycleLock.Chaos.Harness;

/// <summary>
/// A throwaway PostgreSQL for the run (initdb in a temp folder, loopback, a free port), with
/// <c>track_commit_timestamp = on</c> so the checker orders commits by the database's own commit times,
/// and <c>synchronous_commit = on</c>. Restarts with <c>pg_ctl stop -m fast|immediate</c>.
/// </summary>
public sealed class LocalPostgres(string directory, int port)
{
    public int Port => port;

    public string ConnectionString => $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=5";

    private string Data => Path.Combine(directory, "data");

    public static async Task<LocalPostgres> StartAsync(string directory)
    {
        Directory.CreateDirectory(directory);
        if (Shell.IsRoot)
        {
            await Shell.RunAsync("chown", ["-R", "postgres", directory]);
        }

        var postgres = new LocalPostgres(directory, Shell.FreePort());
        await Shell.RunAsync(Shell.PgBin("initdb"), ["-D", postgres.Data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], asPostgres: true);
        await postgres.StartServerAsync();
        return postgres;
    }

    public Task StartServerAsync() => Shell.RunAsync(Shell.PgBin("pg_ctl"),
    [
        "-D", Data, "-l", Path.Combine(directory, "pg.log"), "-w", "-t", "60", "-o",
        string.Create(CultureInfo.InvariantCulture, $"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c synchronous_commit=on -c track_commit_timestamp=on -c max_connections=300"),
        "start",
    ], asPostgres: true);

    public Task StopAsync(string mode) => Shell.RunAsync(Shell.PgBin("pg_ctl"), ["-D", Data, "-m", mode, "-w", "stop"], asPostgres: true, throwOnError: false);
}
