using System.Globalization;
using System.Net;
using CycleLock.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace CycleLock.Chaos.Leader;

/// <summary>
/// One replica of a leader election (<c>leader --gateway PORT --service-id S --cluster-id C --name N --ttl-ms T
/// --id ID</c>), for the election's process tests: it registers <c>AddCycleLockLeader</c> and prints, one line each,
/// <c>start TERM UNIX_MS</c> when its callback begins, <c>stop TERM UNIX_MS</c> when it returns, and
/// <c>changed IS_LEADER TERM</c> for each LeadershipChanged event. A SIGTERM stops its host gracefully. The
/// credential comes from the environment (<c>CycleLock__Client__Credential</c>).
/// </summary>
internal static class LeaderProbe
{
    private static readonly Lock Gate = new();

    public static async Task<int> RunAsync(string[] args)
    {
        var options = Parse(args);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("CycleLock", LogLevel.Information);
        builder.AddCycleLockClient(
            c => c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, options.Gateway)).Configure<ClusterOptions>(o =>
            {
                o.ServiceId = options.ServiceId;
                o.ClusterId = options.ClusterId;
            }),
            o => o.HolderLabel = options.Id);
        builder.Services.AddCycleLockLeader(
            options.Name,
            async (lease, cancellationToken) =>
            {
                Print($"start {lease.Term} {Now()}");
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                finally
                {
                    Print($"stop {lease.Term} {Now()}");
                }
            },
            o => o.Ttl = options.Ttl);
        using var host = builder.Build();
        host.Services.GetRequiredKeyedService<CycleLockLeader>(options.Name).LeadershipChanged +=
            (_, change) => Print($"changed {(change.IsLeader ? "true" : "false")} {change.Term}");
        await host.RunAsync();
        Print("exited");
        return 0;
    }

    private static void Print(string line)
    {
        lock (Gate)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }

    private static string Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    private static (int Gateway, string ServiceId, string ClusterId, string Name, TimeSpan Ttl, string Id) Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            values[args[i]] = args[i + 1];
        }

        string Get(string key) => values.TryGetValue(key, out var value) ? value : throw new ArgumentException($"leader: {key} is required");
        return (
            int.Parse(Get("--gateway"), CultureInfo.InvariantCulture),
            Get("--service-id"),
            Get("--cluster-id"),
            Get("--name"),
            TimeSpan.FromMilliseconds(int.Parse(Get("--ttl-ms"), CultureInfo.InvariantCulture)),
            Get("--id"));
    }
}
