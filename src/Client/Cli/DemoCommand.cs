using System.Globalization;
using CycleLock.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CycleLock.Cli;

/// <summary>
/// <c>cyclelock demo</c>: runs a job under <c>WithRefreshingLockAsync</c> through the silo's gateway —
/// waiting in line when the lock is busy, watching the grain's timer renew the lease (renewed_at advancing),
/// then releasing and printing history. Exit codes: 0 completed, 1 not acquired, lost or failed, 2 bad arguments.
/// </summary>
internal static class DemoCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] != "demo")
        {
            await Console.Error.WriteLineAsync("usage: cyclelock demo [--gateway PORT] [--lock NAME] [--ttl SECONDS] [--hold SECONDS] [--wait SECONDS] [--label TEXT]");
            return 2;
        }

        var gateway = 30000;
        var name = "demo/nightly-report";
        var ttl = TimeSpan.FromSeconds(12);
        var hold = TimeSpan.FromSeconds(10);
        var wait = TimeSpan.Zero;
        var label = $"demo-worker/{Environment.ProcessId}";
        try
        {
            for (var i = 1; i < args.Length; i += 2)
            {
                var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"Option {args[i]} needs a value.");
                switch (args[i])
                {
                    case "--gateway": gateway = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--lock": name = LockName.Normalize(value); break;
                    case "--ttl": ttl = TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture)); break;
                    case "--hold": hold = TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture)); break;
                    case "--wait": wait = TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture)); break;
                    case "--label": label = value; break;
                    default: throw new ArgumentException($"Unknown option {args[i]}.");
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync($"cyclelock demo: {e.Message}");
            return 2;
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddCycleLockClient(
            client => client.UseLocalhostClustering(gateway, serviceId: "cyclelock", clusterId: "dev"),
            options => options.HolderLabel = label);
        using var host = builder.Build();
        await host.StartAsync();
        var locks = host.Services.GetRequiredService<CycleLockClient>();
        var time = TimeProvider.System;

        // The job runs under WithRefreshingLockAsync: a fair, queued wait (no polling), a token that is
        // cancelled if ownership is lost, and an honest outcome. The "job" watches the grain renew the lease.
        Console.WriteLine($"[{label}] acquiring {name} (ttl {ttl.TotalSeconds:0}s, waiting up to {wait.TotalSeconds:0}s in line)");
        var run = await locks.WithRefreshingLockAsync(name, ttl, async (handle, token) =>
        {
            Console.WriteLine($"[{label}] acquired {handle.Name}: epoch {handle.Epoch}, ttl {handle.Ttl}, valid for {handle.Remaining:g}");
            handle.Jeopardy += (_, _) => Console.WriteLine($"[{label}]   in jeopardy: keep-alives or renewals are failing; still the holder until {handle.ValidUntil:HH:mm:ss.fff}");
            var holding = time.GetTimestamp();
            DateTimeOffset? lastRenewed = null;
            while (time.GetElapsedTime(holding) < hold)
            {
                var info = await locks.InspectAsync(name);
                var renewed = info.RenewedAt != lastRenewed && lastRenewed is not null ? "  <- renewed by the grain timer" : string.Empty;
                Console.WriteLine($"[{label}]   state {handle.State,-10} renewed_at {info.RenewedAt:HH:mm:ss.fff}  expires_at {info.ExpiresAt:HH:mm:ss.fff}  valid for {handle.Remaining.TotalSeconds,5:0.0}s{renewed}");
                lastRenewed = info.RenewedAt;
                handle.Heartbeat();
                await Task.Delay(TimeSpan.FromSeconds(1), token);
            }

            return handle.Epoch;
        }, new RefreshingLockOptions { WaitTimeout = wait, MaxHold = hold * 3 });

        Console.WriteLine($"[{label}] {run}");
        if (run.Outcome == LockRunOutcome.Completed)
        {
            foreach (var entry in (await locks.HistoryAsync(name, 10)).Reverse())
            {
                Console.WriteLine($"[{label}]   history #{entry.Id}: epoch {entry.Epoch} {entry.Event,-15} {entry.Reason} {entry.At:HH:mm:ss.fff}");
            }
        }

        await host.StopAsync();
        return run.Outcome == LockRunOutcome.Completed ? 0 : 1;
    }
}
