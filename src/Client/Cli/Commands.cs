using System.CommandLine;
using System.Globalization;
using CycleLock.Client;
using Spectre.Console;

namespace CycleLock.Cli;

/// <summary>The operator commands: list, inspect, watch, force-release, reset, hold.</summary>
internal static class Commands
{
    private static readonly Argument<string> LockArgument = new("NAME") { Description = "The lock's name" };

    public static Command List()
    {
        var max = new Option<int>("--max") { Description = "Most locks to show (default 1000)", DefaultValueFactory = _ => 1000 };
        var command = new Command("list", "Every lock: holder, epoch, acquired, renewed, expires, time left, held for, counters, state") { max };
        command.SetAction((parse, token) => Run(parse, "cyclelock-list", token, async (_, client) =>
        {
            var locks = await LockTables.ListAllAsync(client, parse.GetValue(max));
            AnsiConsole.Write(LockTables.Locks(locks, TimeProvider.System.GetUtcNow()));
            AnsiConsole.MarkupLine($"{locks.Count} lock(s)");
            return ExitCodes.Ok;
        }, check: () =>
        {
            if (parse.GetValue(max) is < 1 or > 100_000)
            {
                throw new ArgumentException($"--max {parse.GetValue(max)} is out of range (rule: 1 to 100000).");
            }
        }));
        return command;
    }

    public static Command Inspect()
    {
        var history = new Option<int>("--history") { Description = "History entries to show (default 20, 1 to 1000)", DefaultValueFactory = _ => 20 };
        var command = new Command("inspect", "One lock with its recent history") { LockArgument, history };
        command.SetAction((parse, token) => Run(parse, "cyclelock-inspect", token, async (locks, _) =>
        {
            var name = LockName.Normalize(parse.GetValue(LockArgument)!);
            var info = await locks.InspectAsync(name);
            AnsiConsole.Write(LockTables.Locks([info], TimeProvider.System.GetUtcNow()));
            if (!info.Exists)
            {
                AnsiConsole.MarkupLine($"lock {Markup.Escape(LockName.Quote(name))} has never been acquired");
            }

            AnsiConsole.Write(LockTables.History((await locks.HistoryAsync(name, parse.GetValue(history))).Reverse()));
            return ExitCodes.Ok;
        }, check: () =>
        {
            LockName.Normalize(parse.GetValue(LockArgument));
            if (parse.GetValue(history) is < 1 or > 1000)
            {
                throw new ArgumentException($"--history {parse.GetValue(history)} is out of range (rule: 1 to 1000).");
            }
        }));
        return command;
    }

    public static Command Watch()
    {
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes (default 1)", DefaultValueFactory = _ => 1 };
        var count = new Option<int>("--count") { Description = "Refreshes before exiting (default: until Ctrl-C)", DefaultValueFactory = _ => int.MaxValue };
        var command = new Command("watch", "A live table of every lock") { interval, count };
        command.SetAction((parse, token) => Run(parse, "cyclelock-watch", token, async (_, client) =>
        {
            var every = parse.GetValue(interval);
            var refreshes = parse.GetValue(count);
            var table = LockTables.Locks(await LockTables.ListAllAsync(client, 1000), TimeProvider.System.GetUtcNow());
            await AnsiConsole.Live(table).StartAsync(async live =>
            {
                for (var i = 1; i < refreshes && !token.IsCancellationRequested; i++)
                {
                    try
                    {
                        await Task.Delay(TimeSpan.FromSeconds(every), token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    live.UpdateTarget(LockTables.Locks(await LockTables.ListAllAsync(client, 1000), TimeProvider.System.GetUtcNow()));
                }
            });
            return ExitCodes.Ok;
        }, check: () =>
        {
            if (parse.GetValue(interval) is < 0.1 or > 3600 or double.NaN)
            {
                throw new ArgumentException($"--interval {parse.GetValue(interval).ToString(CultureInfo.InvariantCulture)} is out of range (rule: 0.1 to 3600 seconds).");
            }

            if (parse.GetValue(count) < 1)
            {
                throw new ArgumentException($"--count {parse.GetValue(count)} is out of range (rule: at least 1).");
            }
        }));
        return command;
    }

    public static Command ForceRelease()
    {
        var epoch = new Option<long>("--epoch") { Description = "The epoch to end (required: a stale command never ends a newer lease)", Required = true };
        var reason = new Option<string>("--reason") { Description = "Why, for history (required)", Required = true };
        var noDelay = new Option<bool>("--no-delay") { Description = "Skip the fence that waits out the old holder's promises (history records it)" };
        var by = new Option<string>("--by") { Description = "Who (default: the user name)", DefaultValueFactory = _ => Environment.UserName };
        var command = new Command("force-release", "End the lease of one epoch") { LockArgument, epoch, reason, noDelay, by };
        command.SetAction((parse, token) => Run(parse, "cyclelock-operator", token, async (locks, _) =>
        {
            var name = LockName.Normalize(parse.GetValue(LockArgument)!);
            var reply = await locks.ForceReleaseAsync(name, parse.GetValue(epoch), parse.GetValue(reason)!, parse.GetValue(by)!, parse.GetValue(noDelay));
            switch (reply.Status)
            {
                case ForceReleaseStatus.Released:
                    AnsiConsole.MarkupLine($"force-released {Markup.Escape(LockName.Quote(name))} epoch {parse.GetValue(epoch)}; new epoch {reply.CurrentEpoch}, fenced until {reply.FenceUntil:O}");
                    return ExitCodes.Ok;
                case ForceReleaseStatus.AlreadyReleased:
                    AnsiConsole.MarkupLine($"epoch {parse.GetValue(epoch)} of {Markup.Escape(LockName.Quote(name))} was already force-released");
                    return ExitCodes.Ok;
                case ForceReleaseStatus.WrongEpoch:
                    await Console.Error.WriteLineAsync($"cyclelock: lock {LockName.Quote(name)} is at epoch {reply.CurrentEpoch}, not {parse.GetValue(epoch)}: nothing changed (inspect it and use the current epoch)");
                    return ExitCodes.Refused;
                case ForceReleaseStatus.NotHeld:
                    await Console.Error.WriteLineAsync($"cyclelock: lock {LockName.Quote(name)} epoch {parse.GetValue(epoch)} is not held: nothing changed");
                    return ExitCodes.Refused;
                default:
                    await Console.Error.WriteLineAsync($"cyclelock: lock {LockName.Quote(name)} has a fenced write in flight (an epoch guard holds the row): nothing changed; retry");
                    return ExitCodes.Refused;
            }
        }, check: () =>
        {
            LockName.Normalize(parse.GetValue(LockArgument));
            RequestRules.ForceRelease(new ForceReleaseRequest(parse.GetValue(epoch), parse.GetValue(reason)!, parse.GetValue(by)!, parse.GetValue(noDelay)));
        }));
        return command;
    }

    public static Command Reset()
    {
        var by = new Option<string>("--by") { Description = "Who (default: the user name)", DefaultValueFactory = _ => Environment.UserName };
        var command = new Command("reset", "Return a dead lock (too many stalls) to service") { LockArgument, by };
        command.SetAction((parse, token) => Run(parse, "cyclelock-operator", token, async (locks, _) =>
        {
            var name = LockName.Normalize(parse.GetValue(LockArgument)!);
            var reply = await locks.ResetAsync(name, parse.GetValue(by)!);
            if (!reply.WasDead)
            {
                await Console.Error.WriteLineAsync($"cyclelock: lock {LockName.Quote(name)} is not dead: nothing changed");
                return ExitCodes.Refused;
            }

            AnsiConsole.MarkupLine($"reset {Markup.Escape(LockName.Quote(name))}: it can be acquired again");
            return ExitCodes.Ok;
        }, check: () =>
        {
            LockName.Normalize(parse.GetValue(LockArgument));
            RequestRules.Text(parse.GetValue(by), RequestRules.MaxLabelLength, "Reset operator", "--by");
        }));
        return command;
    }

    public static Command Hold()
    {
        var ttl = new Option<double>("--ttl") { Description = "Lease length in seconds (default 60)", DefaultValueFactory = _ => 60 };
        var wait = new Option<double>("--wait") { Description = "Seconds to wait in line when busy (default 0)", DefaultValueFactory = _ => 0 };
        var duration = new Option<double>("--for") { Description = "Seconds to hold before releasing (default: until Ctrl-C)", DefaultValueFactory = _ => double.PositiveInfinity };
        var label = new Option<string>("--label") { Description = "Holder label (default cyclelock-hold/PID)", DefaultValueFactory = _ => $"cyclelock-hold/{Environment.ProcessId}" };
        var command = new Command("hold", "Acquire a lock and keep it (for scripts: prints 'epoch=E' once held)") { LockArgument, ttl, wait, duration, label };
        command.SetAction((parse, token) => Run(parse, parse.GetValue(label)!, token, async (locks, _) =>
        {
            var name = LockName.Normalize(parse.GetValue(LockArgument)!);
            var lease = Seconds(parse.GetValue(ttl), "--ttl");
            var patience = Seconds(parse.GetValue(wait), "--wait", allowZero: true);
            var hold = parse.GetValue(duration);
            var holdFor = double.IsPositiveInfinity(hold) ? Timeout.InfiniteTimeSpan : Seconds(hold, "--for"); // checked before anything is sent
            var result = await locks.AcquireAsync(name, lease, patience, token);
            if (result.Handle is not { } handle)
            {
                await Console.Error.WriteLineAsync($"cyclelock: not acquired: {result}");
                return ExitCodes.NotHeld;
            }

            await using (handle)
            {
                Console.WriteLine($"epoch={handle.Epoch}");
                Console.Out.Flush();
                using var until = CancellationTokenSource.CreateLinkedTokenSource(token, handle.LostToken);
                try
                {
                    await Task.Delay(holdFor, until.Token);
                }
                catch (OperationCanceledException)
                {
                }

                if (handle.State == LockHandleState.Lost)
                {
                    await Console.Error.WriteLineAsync($"cyclelock: lost: {handle.EndReason}");
                    return ExitCodes.NotHeld;
                }

                var reply = await handle.ReleaseAsync(ReleaseReason.Completed, CancellationToken.None);
                Console.WriteLine($"released: {reply?.Status}");
                return ExitCodes.Ok;
            }
        }, check: () =>
        {
            LockName.Normalize(parse.GetValue(LockArgument));
            Seconds(parse.GetValue(ttl), "--ttl");
            Seconds(parse.GetValue(wait), "--wait", allowZero: true);
            if (!double.IsPositiveInfinity(parse.GetValue(duration)))
            {
                Seconds(parse.GetValue(duration), "--for");
            }

            RequestRules.Text(parse.GetValue(label), RequestRules.MaxLabelLength, "Holder label", "--label");
        }));
        return command;
    }

    /// <summary>Seconds from an option, checked.</summary>
    public static TimeSpan Seconds(double value, string option, bool allowZero = false)
    {
        if (double.IsNaN(value) || value < 0 || (!allowZero && value == 0) || value > 86_400)
        {
            throw new ArgumentException($"{option} {value.ToString(CultureInfo.InvariantCulture)} is out of range (rule: {(allowZero ? "0" : "more than 0")} to 86400 seconds).");
        }

        return TimeSpan.FromSeconds(value);
    }

    /// <summary>Checks the arguments (<paramref name="check"/>), connects, runs, and maps failures to the documented exit codes.</summary>
    public static async Task<int> Run(ParseResult parse, string label, CancellationToken token, Func<CycleLockClient, IClusterClient, Task<int>> body, Action? check = null)
    {
        try
        {
            // Arguments first: a bad one is exit 2 before anything connects, even to an unreachable cluster.
            check?.Invoke();
            var (host, locks, client) = await ClusterConnection.ConnectAsync(parse, label, token);
            using (host)
            {
                try
                {
                    return await body(locks, client);
                }
                finally
                {
                    await host.StopAsync(CancellationToken.None);
                }
            }
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"cyclelock: {e.Message}");
            return ExitCodes.BadArguments;
        }
        catch (CycleLockAccessDeniedException e)
        {
            await Console.Error.WriteLineAsync($"cyclelock: {e.Message}");
            return ExitCodes.Denied;
        }
        catch (ClusterUnreachableException e)
        {
            await Console.Error.WriteLineAsync($"cyclelock: {e.Message}");
            return ExitCodes.Unreachable;
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or OperationCanceledException && !token.IsCancellationRequested)
        {
            // The call may still complete on the silo (a force-release in doubt is retried there until it settles).
            await Console.Error.WriteLineAsync($"cyclelock: no answer ({e.GetType().Name}: {e.Message}); the outcome is unknown: run 'cyclelock inspect' before retrying");
            return ExitCodes.Unknown;
        }
    }
}
