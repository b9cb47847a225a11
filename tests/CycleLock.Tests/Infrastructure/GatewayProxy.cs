using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace CycleLock.Tests.Infrastructure;

/// <summary>
/// A TCP forwarder standing at a silo's advertised gateway port (the silo listens on another one, its
/// <c>GatewayListeningPort</c>) that can refuse the gateway for a while: every open connection is reset and
/// every new one is reset as soon as it is accepted, as a gateway restart or a network blip does.
/// </summary>
public sealed class GatewayProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly Task _accepting;
    private long _refusedUntil;
    private int _resets;

    public GatewayProxy(int listenPort, int targetPort)
    {
        _target = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, listenPort);
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>Connections reset so far.</summary>
    public int Resets => Volatile.Read(ref _resets);

    /// <summary>Resets every open connection and refuses new ones for <paramref name="duration"/>.</summary>
    public void RefuseFor(TimeSpan duration)
    {
        Interlocked.Exchange(ref _refusedUntil, Environment.TickCount64 + (long)duration.TotalMilliseconds);
        foreach (var socket in _open.Keys)
        {
            Reset(socket);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var socket in _open.Keys)
        {
            Reset(socket);
        }

        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private bool Refusing => Environment.TickCount64 < Interlocked.Read(ref _refusedUntil);

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
            await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _target), _stop.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            Reset(client);
            server.Dispose();
            return;
        }

        _open[client] = 0;
        _open[server] = 0;
        await Task.WhenAny(PumpAsync(client, server), PumpAsync(server, client));
        Reset(client);
        Reset(server);
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
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
}
