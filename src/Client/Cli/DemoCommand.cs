using System.Collections.Concurrent;
using System.CommandLine;
using System.Globalization;
using CycleLock.Client;
using Spectre.Console;

namespace CycleLock.Cli;

/// <summary>
/// <c>cyclelock demo</c>: a fleet of workers contending for a few locks through the SDK. Each worker runs
/// jobs under <c>WithRefreshingLockAsync</c> (a fair, queued wait; a token cancelled on loss; an honest
/// outcome) and a live table shows who holds what and how every run ended.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var workers = new Option<int>("--workers") { Description = "Workers in the fleet (default 3, 1 to 200)", DefaultValueFactory = _ => 3 };
        var locks = new Option<int>("--locks") { Description = "Locks they contend for (default 2, 1 to 1000)", DefaultValueFactory = _ => 2 };
        var duration = new Option<double>("--duration") { Description = "Seconds to run (default 30)", DefaultValueFactory = _ => 30 };
        var ttl = new Option<double>("--ttl") { Description = "Lease length in seconds (default 12)", DefaultValueFactory = _ => 12 };
        var hold = new Option<double>("--hold") { Description = "Seconds each job holds its lock (default 4)", DefaultValueFactory = _ => 4 };
        var prefix = new Option<string>("--prefix") { Description = "Lock name prefix (default demo/job-)", DefaultValueFactory = _ => "demo/job-" };
        var plain = new Option<bool>("--plain") { Description = "Print lines instead of a live table (logs, CI)" };
        var command = new Command("demo", "A worker fleet contending for locks, with a live summary") { workers, locks, duration, ttl, hold, prefix, plain };
        command.SetAction((parse, token) => Commands.Run(parse, "demo", token, async (_, client) =>
        {
            var fleet = parse.GetValue(workers);
            var count = parse.GetValue(locks);
            if (fleet is < 1 or > 200)
            {
                throw new ArgumentException($"--workers {fleet} is out of range (rule: 1 to 200).");
            }

            if (count is < 1 or > 1000)
            {
                throw new ArgumentException($"--locks {count} is out of range (rule: 1 to 1000).");
            }

            var run = Commands.Seconds(parse.GetValue(duration), "--duration");
            var lease = Commands.Seconds(parse.GetValue(ttl), "--ttl");
            var job = Commands.Seconds(parse.GetValue(hold), "--hold");
            var names = Enumerable.Range(1, count).Select(i => LockName.Normalize(parse.GetValue(prefix) + i.ToString(CultureInfo.InvariantCulture))).ToArray();
            return await RunFleetAsync(client, fleet, names, run, lease, job, parse.GetValue(plain), token);
        }));
        return command;
    }

    private static async Task<int> RunFleetAsync(IClusterClient client, int fleet, string[] names, TimeSpan duration, TimeSpan ttl, TimeSpan hold, bool plain, CancellationToken token)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
        stop.CancelAfter(duration);
        var outcomes = new ConcurrentDictionary<(string Worker, LockRunOutcome Outcome), int>();
        var holding = new ConcurrentDictionary<string, (string Worker, long Epoch)>();
        void Log(string line)
        {
            if (plain)
            {
                Console.WriteLine($"{TimeProvider.System.GetUtcNow():HH:mm:ss.fff} {line}");
            }
        }

        var workers = Enumerable.Range(1, fleet).Select(i => Task.Run(async () =>
        {
            var label = $"demo-worker-{i}/{Environment.ProcessId}";
            var locks = new CycleLockClient(client, new CycleLockClientOptions { HolderLabel = label });
            var random = new Random(i);
            while (!stop.IsCancellationRequested)
            {
                var name = names[random.Next(names.Length)];
                try
                {
                    var result = await locks.WithRefreshingLockAsync(name, ttl, async (handle, ct) =>
                    {
                        holding[name] = (label, handle.Epoch);
                        Log($"{label} acquired {name} epoch {handle.Epoch} (valid for {handle.Remaining.TotalSeconds:0.0}s)");
                        await Task.Delay(hold, ct);
                        holding.TryRemove(name, out _);
                        return handle.Epoch;
                    }, new RefreshingLockOptions { WaitTimeout = hold * 2, MaxHold = hold * 3 }, stop.Token);
                    outcomes.AddOrUpdate((label, result.Outcome), 1, (_, n) => n + 1);
                    Log($"{label} {name}: {result}");
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }
            }
        })).ToArray();

        if (plain)
        {
            await Task.WhenAll(workers);
        }
        else
        {
            await AnsiConsole.Live(Summary(names, holding, outcomes)).StartAsync(async live =>
            {
                while (!workers.All(w => w.IsCompleted))
                {
                    await Task.WhenAny(Task.WhenAll(workers), Task.Delay(500, CancellationToken.None));
                    live.UpdateTarget(Summary(names, holding, outcomes));
                }
            });
        }

        var completed = outcomes.Where(o => o.Key.Outcome == LockRunOutcome.Completed).Sum(o => o.Value);
        Console.WriteLine($"demo: {completed} job(s) completed, {outcomes.Where(o => o.Key.Outcome == LockRunOutcome.NotAcquired).Sum(o => o.Value)} not acquired (busy), {outcomes.Where(o => o.Key.Outcome == LockRunOutcome.Lost).Sum(o => o.Value)} lost, {outcomes.Where(o => o.Key.Outcome == LockRunOutcome.Failed).Sum(o => o.Value)} failed");
        return completed > 0 ? ExitCodes.Ok : ExitCodes.NotHeld;
    }

    private static Table Summary(string[] names, ConcurrentDictionary<string, (string Worker, long Epoch)> holding, ConcurrentDictionary<(string Worker, LockRunOutcome Outcome), int> outcomes)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("lock", "holder", "epoch");
        foreach (var name in names)
        {
            var held = holding.TryGetValue(name, out var h);
            table.AddRow(Markup.Escape(name), held ? Markup.Escape(h.Worker) : "-", held ? h.Epoch.ToString(CultureInfo.InvariantCulture) : "-");
        }

        var runs = new Table().Border(TableBorder.Rounded).AddColumns("worker", "completed", "not acquired", "lost", "failed");
        foreach (var worker in outcomes.Keys.Select(k => k.Worker).Distinct().Order(StringComparer.Ordinal))
        {
            runs.AddRow(Markup.Escape(worker), Count(worker, LockRunOutcome.Completed), Count(worker, LockRunOutcome.NotAcquired), Count(worker, LockRunOutcome.Lost), Count(worker, LockRunOutcome.Failed));
        }

        return new Table().NoBorder().AddColumn("CycleLock demo").AddRow(table).AddRow(runs);

        string Count(string worker, LockRunOutcome outcome) => outcomes.GetValueOrDefault((worker, outcome)).ToString(CultureInfo.InvariantCulture);
    }
}
