using System.Globalization;
using CycleLock.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CycleLock.Cli;

/// <summary>
/// <c>cyclelock demo</c>: acquires a lock through the silo's gateway, keeps it alive while the grain's
/// timer renews the lease (printing renewed_at as it advances), then releases it and prints history.
/// Exit codes: 0 done, 1 not acquired or lost, 2 bad arguments.
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
        builder.UseOrleansClient(client => client.UseLocalhostClustering(gateway, serviceId: "cyclelock", clusterId: "dev"));
        using var host = builder.Build();
        await host.StartAsync();
        var grains = host.Services.GetRequiredService<IClusterClient>();
        var locks = new CycleLockClient(grains, new CycleLockClientOptions { HolderLabel = label });

        var time = TimeProvider.System;
        var started = time.GetTimestamp();
        var result = await locks.TryAcquireAsync(name, ttl);
        while (result.Handle is null && time.GetElapsedTime(started) < wait)
        {
            Console.WriteLine($"[{label}] busy: held by {result.Reply.HolderLabel} (epoch {result.Reply.Epoch}, {result.Reply.TimeLeft.TotalSeconds:0.0}s left); retrying");
            await Task.Delay(TimeSpan.FromSeconds(1));
            result = await locks.TryAcquireAsync(name, ttl);
        }

        if (result.Handle is not { } handle)
        {
            Console.WriteLine($"not acquired: {result.Reply.Status} (holder {result.Reply.HolderLabel}, epoch {result.Reply.Epoch}, {result.Reply.TimeLeft} left)");
            await host.StopAsync();
            return 1;
        }

        await using (handle)
        {
            Console.WriteLine($"[{label}] acquired {handle.Name}: epoch {handle.Epoch}, ttl {handle.Ttl}, valid for {handle.Remaining:g}");
            var grain = locks.Grain(name);
            var holding = time.GetTimestamp();
            DateTimeOffset? lastRenewed = null;
            while (time.GetElapsedTime(holding) < hold && !handle.LostToken.IsCancellationRequested)
            {
                var info = await grain.InspectAsync();
                var renewed = info.RenewedAt != lastRenewed && lastRenewed is not null ? "  <- renewed by the grain timer" : string.Empty;
                Console.WriteLine($"[{label}]   state {handle.State,-10} renewed_at {info.RenewedAt:HH:mm:ss.fff}  expires_at {info.ExpiresAt:HH:mm:ss.fff}  valid for {handle.Remaining.TotalSeconds,5:0.0}s{renewed}");
                lastRenewed = info.RenewedAt;
                await Task.Delay(TimeSpan.FromSeconds(1));
            }

            if (handle.LostToken.IsCancellationRequested)
            {
                Console.WriteLine($"[{label}] lost: {handle.EndReason}");
                return 1;
            }

            var reply = await handle.ReleaseAsync(ReleaseReason.Completed);
            Console.WriteLine($"[{label}] released: {reply?.Status}");
            foreach (var entry in (await grain.GetHistoryAsync(10, null)).Reverse())
            {
                Console.WriteLine($"[{label}]   history #{entry.Id}: epoch {entry.Epoch} {entry.Event,-15} {entry.Reason} {entry.At:HH:mm:ss.fff}");
            }
        }

        await host.StopAsync();
        return 0;
    }
}
