using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CycleLock.Testing;

/// <summary>
/// A user-space TCP proxy in front of one silo gateway. It listens on the gateway's advertised port (Orleans
/// clients address a gateway by the endpoint they connect to, so a proxy must stand where the silo says its
/// gateway is; the silo itself listens on another, its <c>GatewayListeningPort</c>) and forwards to the real one.
/// Two faults: <see cref="RefuseFor"/> resets every open connection and every new one as soon as it is accepted,
/// as a gateway restart or a network blip does; <see cref="Blackhole"/> stops one client process's connections
/// moving bytes in both directions while they stay open — a silent network, no reset, no close — and everyone
/// else's traffic flows. For that each accepted connection is attributed to the process that opened it (its
/// socket found in /proc).
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly Func<IReadOnlyDictionary<int, int>>? _owners;
    private readonly ConcurrentDictionary<int, TaskCompletionSource> _gates = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private long _refusedUntil;
    private int _resets;

    /// <param name="listenPort">The advertised gateway port, on loopback.</param>
    /// <param name="targetPort">Where the silo's gateway really listens, on loopback.</param>
    /// <param name="owners">The client processes to attribute connections to: an id of the caller's (a worker
    /// number) by process id, read at each accept. Without it no connection is attributed (nor blackholed).</param>
    public TcpProxy(int listenPort, int targetPort, Func<IReadOnlyDictionary<int, int>>? owners = null)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        _owners = owners;
        _listener = new TcpListener(IPAddress.Loopback, listenPort);
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>Connections reset so far (by <see cref="RefuseFor"/>, a failed connect to the target, or disposal).</summary>
    public int Resets => Volatile.Read(ref _resets);

    /// <summary>Connections attributed to each owner so far.</summary>
    public ConcurrentDictionary<int, int> Connections { get; } = new();

    private bool Refusing => Environment.TickCount64 < Interlocked.Read(ref _refusedUntil);

    /// <summary>Resets every open connection and refuses new ones for <paramref name="duration"/>.</summary>
    public void RefuseFor(TimeSpan duration)
    {
        Interlocked.Exchange(ref _refusedUntil, Environment.TickCount64 + (long)duration.TotalMilliseconds);
        foreach (var socket in _open.Keys)
        {
            Reset(socket);
        }
    }

    /// <summary>Holds every byte to and from <paramref name="owner"/>'s connections until <see cref="Restore"/>.</summary>
    public void Blackhole(int owner) => _gates[owner] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets <paramref name="owner"/>'s held bytes, and all after them, through again.</summary>
    public void Restore(int owner)
    {
        if (_gates.TryRemove(owner, out var gate))
        {
            gate.TrySetResult();
        }
    }

    /// <summary>Stops listening, lets blackholed traffic go and resets every open connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var owner in _gates.Keys)
        {
            Restore(owner);
        }

        foreach (var socket in _open.Keys)
        {
            Reset(socket);
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

    private static int Port(string hexEndpoint) => int.Parse(hexEndpoint[(hexEndpoint.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (Refusing)
            {
                Reset(client);
                continue;
            }

            _ = Task.Run(() => ForwardAsync(client));
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            var owner = _owners is null ? null : OwnerOf(client);
            if (owner is { } o)
            {
                Connections.AddOrUpdate(o, 1, (_, n) => n + 1);
            }

            await server.ConnectAsync(_target, _stop.Token);
            _open[client] = 0;
            _open[server] = 0;
            using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var up = PumpAsync(client, server, owner, connection.Token);
            var down = PumpAsync(server, client, owner, connection.Token);
            await Task.WhenAny(up, down);
            await connection.CancelAsync();
            await Task.WhenAll(up, down);

            // One side ended its connection: the other sees it end the same way (a close, not a reset).
            Close(client);
            Close(server);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Reset(client);
            server.Dispose();
        }
    }

    private async Task PumpAsync(Socket from, Socket to, int? owner, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                await GateAsync(owner, cancellationToken);
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    return;
                }

                // Bytes read just before a blackhole are held until it ends, like a partitioned link.
                await GateAsync(owner, cancellationToken);
                for (var sent = 0; sent < read;)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, cancellationToken);
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private Task GateAsync(int? owner, CancellationToken cancellationToken) =>
        owner is { } o && _gates.TryGetValue(o, out var gate) ? gate.Task.WaitAsync(cancellationToken) : Task.CompletedTask;

    private void Close(Socket socket)
    {
        if (_open.TryRemove(socket, out _))
        {
            socket.Close();
        }
    }

    private void Reset(Socket socket)
    {
        if (!_open.TryRemove(socket, out _) && socket.SafeHandle.IsClosed)
        {
            return;
        }

        try
        {
            socket.LingerState = new LingerOption(true, 0); // close with RST, as a refused or dropped connection
            socket.Close();
            Interlocked.Increment(ref _resets);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    // The process that owns the client end (local port = the peer's port, remote port = ours): its socket
    // inode from /proc/net/tcp{,6}, then which owner process holds that inode among its descriptors.
    private int? OwnerOf(Socket client)
    {
        var peer = (IPEndPoint)client.RemoteEndPoint!;
        var listenPort = ((IPEndPoint)_listener.LocalEndpoint).Port;
        var inode = new[] { "/proc/net/tcp", "/proc/net/tcp6" }
            .Where(File.Exists)
            .SelectMany(table => File.ReadLines(table).Skip(1)) // each table's header
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 9 && Port(f[1]) == peer.Port && Port(f[2]) == listenPort)
            .Select(f => f[9])
            .FirstOrDefault();
        if (inode is null)
        {
            return null;
        }

        var socket = $"socket:[{inode}]";
        foreach (var (pid, owner) in _owners!())
        {
            try
            {
                if (Directory.EnumerateFiles($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/fd").Any(fd => new FileInfo(fd).LinkTarget == socket))
                {
                    return owner;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return null;
    }
}
