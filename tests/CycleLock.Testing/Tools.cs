using System.Globalization;
using CliWrap;
using CliWrap.Buffered;

namespace CycleLock.Testing;

/// <summary>
/// Short commands run to their end (initdb, pg_ctl, psql, pgbench, chown, kill, the CLI, a script), through
/// CliWrap: output read in full, exit code checked, a timeout that kills. PostgreSQL's programs refuse to run
/// as root, so <c>asPostgres</c> runs a command as the <c>postgres</c> user when this process is root.
/// </summary>
public static class Tools
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    /// <summary>This process runs as root (CI and the workplace do): PostgreSQL and PgBouncer then run as <c>postgres</c>.</summary>
    public static bool RunsAsRoot => Environment.UserName == "root";

    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="arguments"/> until it exits and returns its exit code and
    /// output. Throws when it exits non-zero and <paramref name="throwOnError"/> is set; after <paramref name="timeout"/>
    /// it is killed and an <see cref="OperationCanceledException"/> thrown.
    /// </summary>
    public static async Task<BufferedCommandResult> RunAsync(
        string file,
        IEnumerable<string> arguments,
        bool asPostgres = false,
        bool throwOnError = true,
        IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null,
        TimeSpan? timeout = null)
    {
        var args = arguments.ToList();
        var command = Cli.Wrap(file).WithArguments(args);
        if (asPostgres && RunsAsRoot)
        {
            // From "/": the postgres user may not enter the caller's folder (initdb and pg_ctl then complain).
            command = Cli.Wrap("runuser").WithArguments(["-u", "postgres", "--", file, .. args]).WithWorkingDirectory(workingDirectory ?? "/");
        }
        else if (workingDirectory is not null)
        {
            command = command.WithWorkingDirectory(workingDirectory);
        }

        command = command
            .WithEnvironmentVariables(environment?.ToDictionary(e => e.Key, string? (e) => e.Value) ?? NoEnvironment)
            .WithValidation(CommandResultValidation.None);
        using var timer = new CancellationTokenSource(timeout ?? Timeout.InfiniteTimeSpan);
        var result = await command.ExecuteBufferedAsync(timer.Token);
        if (throwOnError && result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {result.ExitCode}: {result.StandardOutput}{result.StandardError}");
        }

        return result;
    }

    /// <summary>Sends <paramref name="signal"/> to process <paramref name="pid"/>; throws when <c>kill</c> fails (no such process).</summary>
    public static Task SignalAsync(int pid, Signal signal) =>
        RunAsync("kill", ["-" + ((int)signal).ToString(CultureInfo.InvariantCulture), pid.ToString(CultureInfo.InvariantCulture)]);

    /// <summary>Finds a program on PATH or in the usual Debian folders (pgbouncer is in /usr/sbin, off a user's PATH).</summary>
    public static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin"])
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
