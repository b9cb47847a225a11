using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CycleLock.Chaos.Harness;

/// <summary>
/// A user-space TCP proxy in front of one silo gateway. It listens on the gateway's advertised port (Orleans
/// clients address a gateway by the endpoint they connect to, so a proxy must stand where the silo says its
/// gateway is; the silo itself listens on another port) and forwards to the real one. Each accepted
/// connection is attributed to the worker process that opened it (its socket found in /proc), so one worker
/// can be blackholed: its connections stop moving bytes in both directions but stay open — a silent
/// network, no reset, no close — while every other worker's traffic flows.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly Func<IReadOnlyDictionary<int, int>> _workerPids;
    private readonly ConcurrentDictionary<int, TaskCompletionSource> _gates = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    /// <param name="listen">The advertised gateway endpoint.</param>
    /// <param name="target">Where the silo's gateway really listens.</param>
    /// <param name="workerPids">Worker id by process id, read at each accept.</param>
    public TcpProxy(IPEndPoint listen, IPEndPoint target, Func<IReadOnlyDictionary<int, int>> workerPids)
    {
        _target = target;
        _workerPids = workerPids;
        _listener = new TcpListener(listen);
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>Connections attributed to each worker so far.</summary>
    public ConcurrentDictionary<int, int> Connections { get; } = new();

    public void Blackhole(int worker) => _gates[worker] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Restore(int worker)
    {
        if (_gates.TryRemove(worker, out var gate))
        {
            gate.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var worker in _gates.Keys)
        {
            Restore(worker);
        }

        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => ServeAsync(inbound));
        }
    }

    private async Task ServeAsync(TcpClient inbound)
    {
        using var _ = inbound;
        var worker = WorkerOf((IPEndPoint)inbound.Client.RemoteEndPoint!, ((IPEndPoint)_listener.LocalEndpoint).Port);
        if (worker is { } w)
        {
            Connections.AddOrUpdate(w, 1, (_, n) => n + 1);
        }

        using var outbound = new TcpClient();
        try
        {
            await outbound.ConnectAsync(_target, _stop.Token);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var up = PumpAsync(inbound.GetStream(), outbound.GetStream(), worker, both.Token);
            var down = PumpAsync(outbound.GetStream(), inbound.GetStream(), worker, both.Token);
            await Task.WhenAny(up, down);
            await both.CancelAsync();
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, int? worker, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                await GateAsync(worker, cancellationToken);
                var read = await from.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    return;
                }

                // Bytes read just before a blackhole are held until it ends, like a partitioned link.
                await GateAsync(worker, cancellationToken);
                await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
        {
        }
    }

    private Task GateAsync(int? worker, CancellationToken cancellationToken) =>
        worker is { } w && _gates.TryGetValue(w, out var gate) ? gate.Task.WaitAsync(cancellationToken) : Task.CompletedTask;

    // The process that owns the client end (local port = the peer's port, remote port = ours): its socket
    // inode from /proc/net/tcp{,6}, then which worker process holds that inode among its descriptors.
    private int? WorkerOf(IPEndPoint peer, int listenPort)
    {
        var inode = new[] { "/proc/net/tcp", "/proc/net/tcp6" }
            .Where(File.Exists)
            .SelectMany(File.ReadLines)
            .Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 9 && Port(f[1]) == peer.Port && Port(f[2]) == listenPort)
            .Select(f => f[9])
            .FirstOrDefault();
        if (inode is null)
        {
            return null;
        }

        var socket = $"socket:[{inode}]";
        foreach (var (pid, worker) in _workerPids())
        {
            try
            {
                if (Directory.EnumerateFiles($"/proc/{pid}/fd").Any(fd => new FileInfo(fd).LinkTarget == socket))
                {
                    return worker;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return null;
    }

    private static int Port(string hexEndpoint) => int.Parse(hexEndpoint[(hexEndpoint.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
