using System.CommandLine;
using System.Globalization;
using System.Net;
using CycleLock.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace CycleLock.Cli;

/// <summary>The options every command shares (where the cluster is) and the connection they make.</summary>
internal static class ClusterConnection
{
    public static readonly Option<string[]> Gateways = new("--gateway")
    {
        Description = "A silo gateway, PORT or HOST:PORT; repeat for several (default 127.0.0.1:30000, or CYCLELOCK_GATEWAY)",
        AllowMultipleArgumentsPerToken = true,
        Recursive = true,
    };

    public static readonly Option<string> ServiceId = new("--service-id")
    {
        Description = "The deployment's Orleans ServiceId (default cyclelock)",
        DefaultValueFactory = _ => "cyclelock",
        Recursive = true,
    };

    public static readonly Option<string> ClusterId = new("--cluster-id")
    {
        Description = "The deployment's Orleans ClusterId (default dev)",
        DefaultValueFactory = _ => "dev",
        Recursive = true,
    };

    public static readonly Option<FileInfo?> CredentialFile = new("--credential-file")
    {
        Description = "A file whose first line is this tool's credential, NAME:SECRET (default: the CYCLELOCK_CREDENTIAL environment variable); a secret is never an argument",
        Recursive = true,
    };

    /// <summary>The credential to present: the first line of <c>--credential-file</c>, else <c>CYCLELOCK_CREDENTIAL</c>,
    /// else none. A malformed one is an <see cref="ArgumentException"/> that does not show it.</summary>
    public static string? ReadCredential(ParseResult parse)
    {
        string? credential;
        if (parse.GetValue(CredentialFile) is { } file)
        {
            try
            {
                credential = File.ReadLines(file.FullName).FirstOrDefault()?.Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"--credential-file '{file.FullName}' cannot be read: {e.Message} (rule: a readable file whose first line is NAME:SECRET).", e);
            }

            if (string.IsNullOrEmpty(credential))
            {
                throw new ArgumentException($"--credential-file '{file.FullName}' is empty (rule: its first line is NAME:SECRET).");
            }
        }
        else
        {
            credential = Environment.GetEnvironmentVariable("CYCLELOCK_CREDENTIAL")?.Trim();
            if (string.IsNullOrEmpty(credential))
            {
                return null;
            }
        }

        return CycleLockClientOptionsValidator.CredentialProblem(credential) is { } problem
            ? throw new ArgumentException($"The credential ({(parse.GetValue(CredentialFile) is null ? "CYCLELOCK_CREDENTIAL" : "--credential-file")}) {problem}")
            : credential;
    }

    /// <summary>Parses the gateway list; a bad entry is an <see cref="ArgumentException"/> naming it.</summary>
    public static IPEndPoint[] ParseGateways(string[]? values)
    {
        var list = values is { Length: > 0 } ? values : [Environment.GetEnvironmentVariable("CYCLELOCK_GATEWAY") ?? "30000"];
        return [.. list.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Select(Parse)];

        static IPEndPoint Parse(string value)
        {
            if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535)
            {
                return new IPEndPoint(IPAddress.Loopback, port);
            }

            if (IPEndPoint.TryParse(value, out var endpoint) && endpoint.Port > 0)
            {
                return endpoint;
            }

            var colon = value.LastIndexOf(':');
            if (colon > 0 && int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535)
            {
                IPAddress[] addresses;
                try
                {
                    addresses = Dns.GetHostAddresses(value[..colon]);
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    throw new ClusterUnreachableException($"Gateway host '{value[..colon]}' does not resolve: {e.Message}", e);
                }

                if (addresses.Length > 0)
                {
                    return new IPEndPoint(addresses[0], port);
                }
            }

            throw new ArgumentException($"Gateway '{value}' is not valid (rule: PORT or HOST:PORT with a port from 1 to 65535).");
        }
    }

    /// <summary>Connects to the cluster; the host must be disposed. Throws <see cref="ClusterUnreachableException"/>.</summary>
    public static async Task<(IHost Host, CycleLockClient Locks, IClusterClient Client)> ConnectAsync(ParseResult parse, string label, CancellationToken cancellationToken)
    {
        var gateways = ParseGateways(parse.GetValue(Gateways));
        var serviceId = parse.GetValue(ServiceId)!;
        var clusterId = parse.GetValue(ClusterId)!;
        var credential = ReadCredential(parse);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders(); // the tool's output is its tables and messages
        builder.AddCycleLockClient(
            client =>
            {
                client.UseStaticClustering(gateways);
                client.Configure<ClusterOptions>(o =>
                {
                    o.ServiceId = serviceId;
                    o.ClusterId = clusterId;
                });
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));

                // Longer than the grain's force-release budget (30 s), so a slow force-release is answered.
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(45));
                client.UseConnectionRetryFilter((_, _) => Task.FromResult(false));
            },
            options =>
            {
                options.HolderLabel = label;
                options.Credential = credential;
            });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            host.Dispose();
            throw new ClusterUnreachableException($"Could not reach the cluster at {string.Join(", ", gateways.Select(g => g.ToString()))} (service {serviceId}, cluster {clusterId}): {e.Message}", e);
        }

        return (host, host.Services.GetRequiredService<CycleLockClient>(), host.Services.GetRequiredService<IClusterClient>());
    }
}
