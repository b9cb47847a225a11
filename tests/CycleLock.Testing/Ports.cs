using System.Net;
using System.Net.Sockets;

namespace CycleLock.Testing;

/// <summary>Free loopback ports for the processes and proxies a test or a run starts.</summary>
public static class Ports
{
    private static readonly HashSet<int> Handed = [];

    /// <summary>A port nobody listens on now and that this process has not handed out before (the kernel
    /// may offer a just-closed port again, and two launchers in one run must not both get it).</summary>
    public static int Free()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (Handed)
            {
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
