using System.Diagnostics;
using System.Globalization;
using CycleLock.Chaos.Checking;
using CycleLock.Testing;
using Npgsql;

namespace CycleLock.Chaos.Harness;

/// <summary>
/// The chaos run (DESIGN §9, issue 7): a throwaway PostgreSQL with PgBouncer in front, two silos of the
/// main cluster and one silo of a second cluster with the same ServiceId, and worker processes that reach
/// the main silos only through their own TCP proxies. Faults run on a schedule while the workers contend;
/// afterwards the evidence (history and protected writes with their commit timestamps, the workers' logs,
/// the fault log, the silos' renewal retries) goes to the <see cref="ChaosChecker"/>.
/// </summary>
public sealed class ChaosHarness(ChaosSettings settings)
{
    private const string ServiceId = "chaos";
    private readonly List<FaultRecord> _faults = [];
    private readonly List<WorkerFault> _workerFaults = [];
    private readonly List<string> _unbitten = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private PostgresCluster? _postgres;
    private PgBouncer? _bouncer;
    private readonly List<SiloNode> _silos = [];
    private readonly List<ManagedProcess> _workers = [];
    private readonly List<TcpProxy> _proxies = [];

    public static readonly string[] FaultKinds =
    [
        "pg-terminate", "pgbouncer-restart", "pg-restart-fast", "pg-restart-immediate", "silo-kill",
        "worker-stop", "worker-stop-in-guard", "worker-blackhole",
    ];

    /// <summary>On SIGTERM/SIGINT: continue any stopped worker, then stop every process the run started
    /// (workers, silos, PgBouncer, PostgreSQL), so an interrupted run leaves nothing behind.</summary>
    public async Task EmergencyStopAsync()
    {
        List<ManagedProcess> workers;
        lock (_workers)
        {
            workers = [.. _workers];
        }

        foreach (var worker in workers.Where(w => !w.Exited))
        {
            try
            {
                await worker.SignalAsync(Signal.Cont);
            }
            catch (InvalidOperationException)
            {
            }

            await worker.DisposeAsync();
        }

        foreach (var silo in _silos)
        {
            await silo.StopAsync();
        }

        try
        {
            if (_bouncer is not null)
            {
                await _bouncer.StopAsync();
            }
        }
        catch (InvalidOperationException)
        {
        }

        if (_postgres is not null)
        {
            await _postgres.StopAsync("immediate");
        }
    }

    public async Task<int> RunAsync()
    {
        Directory.CreateDirectory(settings.Directory);
        Log($"chaos run ({(settings.Long ? "long" : "short")} mode): {settings.Workers} workers, {settings.Locks} locks, TTL {settings.Ttl.TotalSeconds:0} s, " +
            $"{settings.Duration.TotalMinutes:0.0} min of faults; budgets: database {settings.DatabaseBudget.TotalSeconds:0.00} s (TTL − P − m), " +
            $"silo {settings.SiloBudget.TotalSeconds:0.00} s (ht − m_w − interval − kt); logs in {settings.Directory}");
        // track_commit_timestamp: the checker orders commits by the database's own commit times.
        _postgres = await PostgresCluster.StartAsync(Path.Combine(settings.Directory, "pg"), ["track_commit_timestamp=on"]);
        try
        {
            return await RunWithDatabaseAsync();
        }
        finally
        {
            foreach (var process in _workers)
            {
                await process.DisposeAsync();
            }

            foreach (var proxy in _proxies)
            {
                await proxy.DisposeAsync();
            }

            foreach (var silo in _silos)
            {
                await silo.StopAsync();
            }

            if (_bouncer is not null)
            {
                await _bouncer.StopAsync();
            }

            await _postgres.StopAsync("fast");
        }
    }

    private async Task<int> RunWithDatabaseAsync()
    {
        await Tools.RunAsync("dotnet", [settings.SiloDll, "migrate"], environment: new Dictionary<string, string> { ["CycleLock__ConnectionString"] = Database });
        await using (var db = NpgsqlDataSource.Create(Database))
        {
            await using var ddl = db.CreateCommand("""
                CREATE SCHEMA IF NOT EXISTS chaos;
                CREATE TABLE IF NOT EXISTS chaos.protected (id bigserial PRIMARY KEY, lock text NOT NULL, epoch bigint NOT NULL, holder uuid NOT NULL, worker int NOT NULL, seq bigint NOT NULL);
                """);
            await ddl.ExecuteNonQueryAsync();
        }

        _bouncer = await PgBouncer.StartAsync(_postgres!.Port, maxClientConnections: 1000, defaultPoolSize: 60, directory: Path.Combine(settings.Directory, "pgbouncer"));
        var pooled = _bouncer.ConnectionString();
        _silos.Add(new SiloNode("silo-1", "chaos", settings, ServiceId, pooled, proxied: true));
        _silos.Add(new SiloNode("silo-2", "chaos", settings, ServiceId, pooled, proxied: true));
        _silos.Add(new SiloNode("silo-b", "chaos-b", settings, ServiceId, pooled, proxied: false));
        foreach (var silo in _silos)
        {
            await silo.StartAsync();
        }

        // Workers reach the main silos only through these proxies (at the gateways' advertised ports).
        foreach (var silo in _silos.Take(2))
        {
            _proxies.Add(new TcpProxy(silo.Gateway.Port, silo.ListeningGateway.Port, WorkerPids));
        }

        Log("silos live: silo-1, silo-2 (cluster chaos), silo-b (cluster chaos-b, same ServiceId)");
        var readiness = new List<Task<string>>();
        for (var i = 0; i < settings.Workers; i++)
        {
            List<string> args =
            [
                "worker", "--id", i.ToString(CultureInfo.InvariantCulture), "--service-id", ServiceId,
                "--connection", pooled, "--locks", settings.Locks.ToString(CultureInfo.InvariantCulture),
                "--ttl-seconds", settings.Ttl.TotalSeconds.ToString(CultureInfo.InvariantCulture),
                "--log", Path.Combine(settings.Directory, $"worker-{i}.jsonl"),
            ];
            foreach (var silo in _silos.Take(2))
            {
                args.AddRange(["--gateway", silo.Gateway.ToString()]);
            }

            if (i == 0)
            {
                args.AddRange(["--gateway-b", _silos[2].Gateway.ToString()]);
            }

            var process = ManagedProcess.Start($"worker-{i}", "dotnet", [settings.ChaosDll, .. args], logPath: Path.Combine(settings.Directory, $"worker-{i}.log"));
            readiness.Add(process.WatchAsync("READY"));
            lock (_workers)
            {
                _workers.Add(process);
            }
        }

        try
        {
            await Task.WhenAll(readiness).WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"workers not ready in 90 s: {string.Join(", ", _workers.Where((_, i) => !readiness[i].IsCompleted).Select(w => w.Name))} (see their logs in {settings.Directory})");
        }

        Log($"{settings.Workers} workers contending");
        using var scraping = new CancellationTokenSource();
        var scraper = Task.Run(async () =>
        {
            while (!scraping.IsCancellationRequested)
            {
                foreach (var silo in _silos)
                {
                    await silo.ScrapeAsync();
                }

                await Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None);
            }
        });
        var runStart = _clock.Elapsed;
        var cycles = 0;
        do
        {
            await FaultCycleAsync();
            cycles++;
        }
        while (_clock.Elapsed - runStart + CycleLength < settings.Duration);

        var rest = settings.Duration - (_clock.Elapsed - runStart);
        if (rest > TimeSpan.Zero)
        {
            await Task.Delay(rest);
        }

        await scraping.CancelAsync();
        await scraper;
        Log($"{cycles} fault cycle(s) done; stopping workers");
        foreach (var process in _workers)
        {
            await process.SendAsync("stop");
        }

        foreach (var process in _workers)
        {
            if (!await process.WaitForExitAsync(TimeSpan.FromSeconds(30)))
            {
                Log($"{process.Name} did not stop in 30 s; killed");
            }
        }

        var failures = new List<string>();
        foreach (var process in _workers)
        {
            if (!process.Exited || process.ExitCode != 0)
            {
                failures.Add($"{process.Name} {(process.Exited ? $"exited with {process.ExitCode}" : "did not stop")} (see {process.Name}.log)");
            }
        }

        var evidence = await Evidence.GatherAsync(Database, ServiceId, settings, _faults, _workerFaults, _unbitten, _silos.Sum(s => s.RenewRetries), _silos.Sum(s => s.Moved));
        var minimum = settings.Long ? 10_000 : 1_000;
        if (evidence.Grants.Count < minimum)
        {
            failures.Add($"only {evidence.Grants.Count} grants (this mode needs at least {minimum})");
        }

        var report = new ChaosChecker { LossWindow = settings.Ttl }.Check(evidence);
        var text = report.Format() + string.Concat(failures.Select(f => "run failure: " + f + Environment.NewLine))
            + $"violations: {report.Violations.Count}; run failures: {failures.Count}; run time {_clock.Elapsed.TotalMinutes:0.0} min" + Environment.NewLine;
        Console.Write(text);
        await File.WriteAllTextAsync(Path.Combine(settings.Directory, "report.txt"), text);
        return report.Passed && failures.Count == 0 ? 0 : 1;
    }

    private static TimeSpan CycleLength => TimeSpan.FromSeconds(95);

    /// <summary>The run's database directly (not through PgBouncer), failing fast while it is down.</summary>
    private string Database => _postgres!.ConnectionString + ";Timeout=5";

    // One cycle of every fault kind: the worker faults (longer than the TTL) run together on three
    // workers while the database and silo faults follow each other, so they do not overlap the worker
    // whose guarded transaction is held open.
    private async Task FaultCycleAsync()
    {
        var workerFaults = Task.WhenAll(
            WorkerStopAsync("worker-stop", 1, "pause-before-guard"),
            WorkerStopAsync("worker-stop-in-guard", 2, "pause-in-guard"),
            BlackholeAsync(3));
        await Task.Delay(TimeSpan.FromSeconds(3));
        await workerFaults;

        // Workers 4 and 5 (no fault aimed at them) now hold for 2 × TTL, writing every 300 ms, so their
        // leases must survive every database and silo fault below (the checker fails a loss).
        var holds = new List<Task<string>>();
        foreach (var worker in _workers.Skip(4))
        {
            holds.Add(worker.WatchAsync("LONG-HOLD"));
            await worker.SendAsync("long-hold");
        }

        await Task.WhenAny(Task.WhenAll(holds), Task.Delay(TimeSpan.FromSeconds(10)));
        await FaultAsync("pg-terminate", null, settings.DatabaseBudget, TerminateStormAsync);
        await Task.Delay(TimeSpan.FromSeconds(6));
        await FaultAsync("pgbouncer-restart", null, settings.DatabaseBudget, async () =>
        {
            await _bouncer!.StopAsync();
            await Task.Delay(TimeSpan.FromSeconds(2));
            await _bouncer.StartAsync();
        });
        await Task.Delay(TimeSpan.FromSeconds(6));
        foreach (var mode in new[] { "fast", "immediate" })
        {
            await FaultAsync($"pg-restart-{mode}", null, settings.DatabaseBudget, async () =>
            {
                await _postgres!.StopAsync(mode);
                await Task.Delay(TimeSpan.FromSeconds(2));
                await _postgres!.StartServerAsync();
            });
            await Task.Delay(TimeSpan.FromSeconds(6));
        }

        // The outage is the time the silo is gone (3 s); its leases fail over to silo-1 meanwhile (the
        // checker fails any lease lost). Starting it again (until it is live) is not part of the outage.
        await FaultAsync("silo-kill", "silo-2", settings.SiloBudget, async () =>
        {
            await _silos[1].KillAsync();
            await Task.Delay(TimeSpan.FromSeconds(3));
        });
        var restart = Stopwatch.StartNew();
        await _silos[1].StartAsync();
        Log($"silo-2 restarted: live after {restart.Elapsed.TotalSeconds:0.0} s");
        await Task.Delay(TimeSpan.FromSeconds(8));
    }

    private async Task WorkerStopAsync(string kind, int worker, string pausePoint)
    {
        var process = _workers[worker];
        var paused = process.WatchAsync("PAUSE-POINT " + pausePoint);
        await process.SendAsync(pausePoint);
        string line;
        try
        {
            line = await paused.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            // Not stopped anywhere else: a stop that missed its point proves nothing.
            Unbitten($"{kind} on worker-{worker}: no pause point reached in 30 s");
            return;
        }

        var (lockName, epoch) = PausedLease(line);
        await FaultAsync(kind, $"worker-{worker}", TimeSpan.Zero, async () =>
        {
            await process.SignalAsync(Signal.Stop);
            await Task.Delay(settings.Ttl + TimeSpan.FromSeconds(2));
            await process.SignalAsync(Signal.Cont);
            await process.SendAsync("resume");
        }, line, new WorkerFault(kind, worker, lockName, epoch));
    }

    // The worker is blackholed while it holds a lock and keeps writing (a long hold): cut off from the
    // silos, it still reaches the database, and only its handle's ValidUntil and the guard stop it.
    private async Task BlackholeAsync(int worker)
    {
        var process = _workers[worker];
        var holding = process.WatchAsync("LONG-HOLD");
        await process.SendAsync("long-hold");
        string line;
        try
        {
            line = await holding.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            Unbitten($"worker-blackhole on worker-{worker}: no long hold began in 30 s");
            return;
        }

        var connections = _proxies.Sum(p => p.Connections.GetValueOrDefault(worker));
        if (connections == 0)
        {
            Unbitten($"worker-blackhole on worker-{worker}: none of its connections went through the proxies");
        }

        var (lockName, epoch) = PausedLease(line);
        await FaultAsync("worker-blackhole", $"worker-{worker}", TimeSpan.Zero, detail: $"{line}; {connections} connection(s) of the worker through the proxies", workerFault: new WorkerFault("worker-blackhole", worker, lockName, epoch), fault: async () =>
        {
            foreach (var proxy in _proxies)
            {
                proxy.Blackhole(worker);
            }

            await Task.Delay(settings.Ttl + TimeSpan.FromSeconds(2));
            foreach (var proxy in _proxies)
            {
                proxy.Restore(worker);
            }
        });
    }

    // "PAUSE-POINT kind lock epoch" / "LONG-HOLD lock epoch": the lease the worker held at that moment.
    private static (string Lock, long Epoch) PausedLease(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (parts[^2], long.Parse(parts[^1], CultureInfo.InvariantCulture));
    }

    private void Unbitten(string what)
    {
        lock (_unbitten)
        {
            _unbitten.Add(what);
        }

        Log("did not bite: " + what);
    }

    private async Task TerminateStormAsync()
    {
        await using var db = NpgsqlDataSource.Create(Database);
        var until = _clock.Elapsed + TimeSpan.FromSeconds(3);
        while (_clock.Elapsed < until)
        {
            await using var command = db.CreateCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'");
            await command.ExecuteScalarAsync();
            await Task.Delay(TimeSpan.FromMilliseconds(300));
        }
    }

    private async Task FaultAsync(string kind, string? target, TimeSpan budget, Func<Task> fault, string? detail = null, WorkerFault? workerFault = null)
    {
        var start = DateTimeOffset.UtcNow;
        await fault();
        var end = DateTimeOffset.UtcNow;
        lock (_faults)
        {
            _faults.Add(new FaultRecord(kind, start, end, target, budget));
            if (workerFault is not null)
            {
                _workerFaults.Add(workerFault with { Start = start, End = end });
            }
        }

        Log($"fault {kind}{(target is null ? string.Empty : " on " + target)}: {(end - start).TotalSeconds:0.0} s" +
            (budget > TimeSpan.Zero ? $" (budget {budget.TotalSeconds:0.00} s)" : " (the holder is expected to lose)") + (detail is null ? string.Empty : $"; {detail}"));
    }

    private IReadOnlyDictionary<int, int> WorkerPids()
    {
        lock (_workers)
        {
            return _workers.Select((w, i) => (w, i)).Where(p => !p.w.Exited).ToDictionary(p => p.w.Pid, p => p.i);
        }
    }

    private void Log(string message) => Console.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:0.0}s] {message}");
}
