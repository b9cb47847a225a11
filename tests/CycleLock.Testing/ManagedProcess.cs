using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using CliWrap;

namespace CycleLock.Testing;

/// <summary>
/// A long-lived child process (a silo, a chaos worker, a browser), started through CliWrap: its output kept
/// (in memory, or appended to a log file that outlives it), lines it prints watched for, commands written to
/// its standard input, the signals the faults send, and a kill (SIGKILL) when it is disposed.
/// </summary>
public sealed class ManagedProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _kill = new();
    private readonly Channel<string> _input = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentQueue<(string Prefix, TaskCompletionSource<string> Seen)> _watches = new();
    private readonly StringBuilder _output = new();
    private readonly StreamWriter? _log;
    private readonly string? _logPath;
    private readonly Action<string>? _onErrorLine;
    private CommandTask<CommandResult>? _execution;
    private Task<int>? _exit;
    private bool _disposed;

    private ManagedProcess(string name, string? logPath, Action<string>? onErrorLine)
    {
        Name = name;
        _logPath = logPath;
        _onErrorLine = onErrorLine;
        if (logPath is not null)
        {
            // Appended: a process restarted under the same name (a silo after kill -9) keeps one log.
            _log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        }
    }

    /// <summary>The name it was started under (in messages and log names).</summary>
    public string Name { get; }

    /// <summary>Its process id.</summary>
    public int Pid => Execution.ProcessId;

    /// <summary>It has exited and its output is read to the end.</summary>
    public bool Exited => Exit.IsCompleted;

    /// <summary>Its exit code (137, as a shell reports it, when it was killed through <see cref="KillAsync"/>).</summary>
    public int ExitCode => Exited ? Exit.Result : throw new InvalidOperationException($"{Name} is still running.");

    /// <summary>Everything it printed so far (standard output and error, by lines as they came).</summary>
    public string Output
    {
        get
        {
            if (_logPath is not null)
            {
                using var stream = new FileStream(_logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                return reader.ReadToEnd();
            }

            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private CommandTask<CommandResult> Execution => _execution ?? throw new InvalidOperationException("not started");

    private Task<int> Exit => _exit ?? throw new InvalidOperationException("not started");

    /// <summary>
    /// Starts <paramref name="fileName"/> with <paramref name="arguments"/> and <paramref name="environment"/> added to
    /// this process's. Output goes to <paramref name="logPath"/> when given (appended), else to memory; each line of
    /// standard error is also handed to <paramref name="onErrorLine"/> when given.
    /// </summary>
    public static ManagedProcess Start(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, string? logPath = null, Action<string>? onErrorLine = null)
    {
        var process = new ManagedProcess(name, logPath, onErrorLine);
        var command = Cli.Wrap(fileName)
            .WithArguments(arguments)
            .WithEnvironmentVariables(environment?.ToDictionary(e => e.Key, string? (e) => e.Value) ?? [])
            .WithValidation(CommandResultValidation.None)
            .WithStandardInputPipe(PipeSource.Create(process.WriteInputAsync))
            .WithStandardOutputPipe(PipeTarget.ToDelegate(process.OnLine))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(process.OnErrorLine));
        try
        {
            process._execution = command.ExecuteAsync(process._kill.Token);
        }
        catch
        {
            process._log?.Dispose();
            throw;
        }

        process._exit = ExitCodeAsync(process._execution);
        return process;
    }

    /// <summary>Completes with the first line starting with <paramref name="prefix"/> printed from now on.</summary>
    public Task<string> WatchAsync(string prefix)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _watches.Enqueue((prefix, seen));
        return seen.Task;
    }

    /// <summary>Queues <paramref name="line"/> for its standard input (lines are written in the order sent).</summary>
    public Task SendAsync(string line) => _input.Writer.WriteAsync(line).AsTask();

    /// <summary>Sends it <paramref name="signal"/> (SIGSTOP freezes it, SIGCONT lets it run on, SIGTERM asks it to stop).</summary>
    public Task SignalAsync(Signal signal) => Tools.SignalAsync(Pid, signal);

    /// <summary>Waits up to <paramref name="within"/> for it to exit; false when it still runs.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan within)
    {
        try
        {
            await Exit.WaitAsync(within);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary><c>kill -9</c> (of it and any child), then waits for it to be gone.</summary>
    public async Task KillAsync()
    {
        await _kill.CancelAsync();
        await Exit;
    }

    /// <summary>Kills it if it still runs and closes its log.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _input.Writer.TryComplete();
        await KillAsync();

        _kill.Dispose();
        if (_log is not null)
        {
            await _log.DisposeAsync();
        }
    }

    // Killing is cancelling CliWrap's execution, which ends in an OperationCanceledException, not an exit code.
    private static async Task<int> ExitCodeAsync(CommandTask<CommandResult> execution)
    {
        try
        {
            return (await execution).ExitCode;
        }
        catch (OperationCanceledException)
        {
            return 128 + (int)Signal.Kill;
        }
    }

    private async Task WriteInputAsync(Stream input, CancellationToken cancellationToken)
    {
        await foreach (var line in _input.Reader.ReadAllAsync(cancellationToken))
        {
            await input.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), cancellationToken);
            await input.FlushAsync(cancellationToken);
        }
    }

    private void OnErrorLine(string line)
    {
        OnLine(line);
        _onErrorLine?.Invoke(line);
    }

    private void OnLine(string line)
    {
        if (_log is not null)
        {
            lock (_log)
            {
                _log.WriteLine(line);
            }
        }
        else
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }

        foreach (var (prefix, seen) in _watches)
        {
            if (!seen.Task.IsCompleted && line.StartsWith(prefix, StringComparison.Ordinal))
            {
                seen.TrySetResult(line);
            }
        }
    }
}
