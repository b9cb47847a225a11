using System.Diagnostics;
using System.Net;
using System.Text.Json;
using CycleLock;
using CycleLock.Benchmarks;
using CycleLock.Client;
using CycleLock.Persistence;
using CycleLock.Testing;
using Medallion.Threading.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;

// CycleLock benchmarks: every scenario against its baselines in the same run, same PostgreSQL, same pool size.
// usage: CycleLock.Benchmarks --connection CS [--pgbench PATH] [--smoke] [--json FILE]
var smoke = args.Contains("--smoke");
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
var connection = Arg("--connection") ?? Environment.GetEnvironmentVariable("CYCLELOCK_CONNECTION")
    ?? throw new ArgumentException("--connection is required (a PostgreSQL connection string; bench/run.sh starts one).");
var pooled = new NpgsqlConnectionStringBuilder(connection) { MaxPoolSize = 16 }.ConnectionString;
var serviceId = "bench-" + Guid.NewGuid().ToString("N")[..8];
var results = new List<Measurement>();
var checks = new List<string>();

await using (var migrate = NpgsqlDataSource.Create(connection))
{
    await MigrationRunner.MigrateAsync(migrate);
}

await using var dataSource = NpgsqlDataSource.Create(pooled);
var raw = new RawStore(dataSource, serviceId);
var settings = new Dictionary<string, string>();
foreach (var setting in new[] { "server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections" })
{
    await using var show = dataSource.CreateCommand($"SHOW {setting}");
    settings[setting] = (string)(await show.ExecuteScalarAsync())!;
}

// The machine's durable-commit floor: one grant or release per fsync is the most a commit per change can do.
double? fsyncPerSecond = Arg("--pg-test-fsync") is { } testFsync && File.Exists(testFsync) ? await FsyncRate.MeasureAsync(testFsync, smoke) : null;
Console.WriteLine($"CycleLock benchmarks ({(smoke ? "smoke mode: tiny sizes, no targets" : "full")}) — {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
Console.WriteLine("PostgreSQL: " + string.Join(", ", settings.Select(s => $"{s.Key}={s.Value}")) + "; pool size 16 for the silo and the baselines");
Console.WriteLine(fsyncPerSecond is { } rate
    ? $"fsync: {rate:0} fdatasync/s (pg_test_fsync, one 8 kB write, in the benchmark's temp folder): a commit per ownership change caps acquire+release pairs near {rate / 2:0}/s"
    : "fsync: not measured (no pg_test_fsync)");

// Write transactions since the last call: the next transaction id moves once per transaction that wrote (a read
// does not take one), so its delta over a pass counts the durable commits that pass made, at once and exactly.
async Task<long> NextXidAsync()
{
    await using var command = dataSource.CreateCommand("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint");
    return (long)(await command.ExecuteScalarAsync())!;
}

var commitsPerChange = new Dictionary<string, double>();

// Server GC, as deployed (B4 measures its memory); a crash's standard error is shown as it comes.
// B3/B4 hold 100 000 leases under one holder label: above the default per-label bound (10 000), set for the run.
// --silo-setting KEY=VALUE (repeatable) runs the silo with another setting, e.g. CycleLock:Locks:ChangeFlushesInFlight=4.
var siloSettings = new Dictionary<string, string> { ["CycleLock:Locks:MaxLeasesPerHolderLabel"] = "1000000" };
for (var i = 0; i + 1 < args.Length; i++)
{
    if (args[i] == "--silo-setting" && args[i + 1].Split('=', 2) is [var key, var value])
    {
        siloSettings[key] = value;
        Console.WriteLine($"silo setting: {key} = {value}");
    }
}

var onlyChanges = args.Contains("--only-changes");
await using var silo = SiloProcess.Start(pooled, serviceId, siloSettings, clusterId: "bench", serverGc: true, onErrorLine: line => Console.Error.WriteLine($"[silo] {line}"));
await silo.WaitHealthyAsync(TimeSpan.FromSeconds(60));
var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.AddCycleLockClient(
    c =>
    {
        c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, silo.GatewayPort));
        c.Configure<ClusterOptions>(o =>
        {
            o.ServiceId = serviceId;
            o.ClusterId = "bench";
        });
    },
    o => o.HolderLabel = "bench");
using var host = builder.Build();
await host.StartAsync();
var client = host.Services.GetRequiredService<IClusterClient>();
var locks = host.Services.GetRequiredService<CycleLockClient>();
var ttl = TimeSpan.FromSeconds(30);
var forever = TimeSpan.FromMinutes(10);

// --only-renewal runs B3 and B4 alone (they take the longest; for profiling renewal).
if (!args.Contains("--only-renewal"))
{
    // ---- B1: acquire + release throughput and latency, 16 workers over 10 000 locks (warm pass, then measured).
    var b1Workers = smoke ? 4 : 16;
    var b1Locks = smoke ? 200 : 10_000;
    async Task Pass(string variant, string prefix, Func<string, Task> op, bool record)
    {
        var before = await NextXidAsync();
        var m = await Measurement.RunAsync("B1 acquire+release", variant, b1Workers, b1Locks, forever, (_, i) => op($"{prefix}/{i}"));
        var commits = await NextXidAsync() - before - 1;
        if (record)
        {
            results.Add(m);
            commitsPerChange[variant] = commits / (2.0 * b1Locks);
            checks.Add($"B1 {variant}: {commits} write transactions for {2 * b1Locks} ownership changes ({commits / (2.0 * b1Locks):0.000} per change)");
        }
    }

    async Task GrainOp(string name)
    {
        var result = await locks.TryAcquireAsync(name, ttl);
        await result.Handle!.ReleaseAsync();
        await result.Handle.DisposeAsync();
    }

    var rawKey = LeaseKey.New().Hash();
    async Task RawOp(string name)
    {
        var holder = Guid.NewGuid();
        var epoch = await raw.AcquireAsync(name, holder, rawKey, ttl);
        await raw.ReleaseAsync(name, holder, rawKey, epoch);
    }

    await Pass("grains (SDK)", "b1-grain", GrainOp, record: false);
    await Pass("grains (SDK)", "b1-grain", GrainOp, record: true);
    await Pass("raw Npgsql (same SQL)", "b1-raw", RawOp, record: false);
    await Pass("raw Npgsql (same SQL)", "b1-raw", RawOp, record: true);
    var advisory = new PostgresDistributedSynchronizationProvider(pooled);
    await Pass("DistributedLock.Postgres (advisory)", "b1-dl", async name =>
    {
        await using var handle = await advisory.CreateLock(new PostgresAdvisoryLockKey(name, allowHashing: true)).AcquireAsync();
    }, record: false);
    await Pass("DistributedLock.Postgres (advisory)", "b1-dl", async name =>
    {
        await using var handle = await advisory.CreateLock(new PostgresAdvisoryLockKey(name, allowHashing: true)).AcquireAsync();
    }, record: true);
    var grainCounts = await raw.CountsAsync("b1-grain/");
    var rawCounts = await raw.CountsAsync("b1-raw/");
    checks.Add($"B1 grains: {grainCounts.Grants} grants and {grainCounts.Releases} releases in history for {2 * b1Locks} operations");
    checks.Add($"B1 raw: {rawCounts.Grants} grants and {rawCounts.Releases} releases in history for {2 * b1Locks} operations");
    if (grainCounts != (2L * b1Locks, 2L * b1Locks) || rawCounts != (2L * b1Locks, 2L * b1Locks))
    {
        throw new InvalidOperationException("B1: history does not match the operations counted (write-behind or answers from memory?)");
    }

    if (Arg("--pgbench") is { } pgbench && File.Exists(pgbench))
    {
        results.Add(await PgBench.RunAsync(pgbench, connection, serviceId, b1Workers, smoke ? TimeSpan.FromSeconds(3) : TimeSpan.FromSeconds(15)));
    }
    else
    {
        checks.Add("B1 pgbench: skipped (no --pgbench)");
    }

}

if (!args.Contains("--only-renewal") && !onlyChanges)
{
    // ---- B2: keep-alive throughput through grains vs a no-op grain call vs the raw single-row renew, 64 callers.
    var b2Callers = smoke ? 8 : 64;
    var b2Duration = smoke ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(8);
    var held = new List<(ICycleLockGrain Grain, KeepAliveRequest Request)>();
    for (var i = 0; i < b2Callers; i++)
    {
        var grain = client.GetGrain<ICycleLockGrain>($"b2-grain/{i}");
        var request = new AcquireRequest(Guid.NewGuid(), "bench-b2", LeaseKey.New(), TimeSpan.FromMinutes(5));
        var reply = await grain.TryAcquireAsync(request);
        held.Add((grain, new KeepAliveRequest(request.HolderId, request.Key, reply.Epoch)));
    }

    var pings = Enumerable.Range(0, b2Callers).Select(i => client.GetGrain<IPingGrain>($"b2-ping/{i}")).ToArray();
    var rawKey = LeaseKey.New().Hash();
    var rawHeld = new List<(string Name, Guid Holder, long Epoch)>();
    for (var i = 0; i < b2Callers; i++)
    {
        var holder = Guid.NewGuid();
        rawHeld.Add(($"b2-raw/{i}", holder, await raw.AcquireAsync($"b2-raw/{i}", holder, rawKey, TimeSpan.FromMinutes(5))));
    }

    await Measurement.RunAsync("warm-up", "-", b2Callers, long.MaxValue, TimeSpan.FromSeconds(1), async (c, _) => { await held[c].Grain.KeepAliveAsync(held[c].Request); await pings[c].PingAsync(); });
    // The three variants alternate in short rounds, so drift on a shared machine hits all of them alike.
    var b2Rounds = new List<Measurement>();
    for (var round = 0; round < 4; round++)
    {
        b2Rounds.Add(await Measurement.RunAsync("B2 keep-alive", "grains (KeepAlive)", b2Callers, long.MaxValue, b2Duration / 4, async (c, _) =>
        {
            var reply = await held[c].Grain.KeepAliveAsync(held[c].Request);
            if (reply.Status != KeepAliveStatus.Held)
            {
                throw new InvalidOperationException($"keep-alive answered {reply.Status}");
            }
        }));
        b2Rounds.Add(await Measurement.RunAsync("B2 keep-alive", "no-op grain call", b2Callers, long.MaxValue, b2Duration / 4, async (c, _) => await pings[c].PingAsync()));
        b2Rounds.Add(await Measurement.RunAsync("B2 keep-alive", "raw single-row renew", b2Callers, long.MaxValue, b2Duration / 4, (c, _) => raw.RenewAsync(rawHeld[c].Name, rawHeld[c].Holder, rawHeld[c].Epoch, TimeSpan.FromMinutes(5))));
    }

    foreach (var variant in b2Rounds.GroupBy(r => r.Variant))
    {
        results.Add(new Measurement("B2 keep-alive", variant.Key, variant.Sum(r => r.Operations), TimeSpan.FromTicks(variant.Sum(r => r.Elapsed.Ticks)),
            variant.Average(r => r.P50Ms), variant.Max(r => r.P99Ms), "4 alternating rounds; p50 averaged, p99 the worst round"));
    }

    // ---- B5: uncontended acquire latency, cold (the first call activates the grain) and warm, vs raw SQL.
    // Warm and raw alternate sample by sample (same minute, same noise); each sample is the acquire alone.
    var b5Count = smoke ? 50 : 2000;
    var b5 = new Dictionary<string, List<double>> { ["grains, cold"] = [], ["grains, warm"] = [], ["raw Npgsql"] = [] };
    var b5Watch = new Dictionary<string, TimeSpan> { ["grains, cold"] = TimeSpan.Zero, ["grains, warm"] = TimeSpan.Zero, ["raw Npgsql"] = TimeSpan.Zero };
    async Task Sample(string variant, Func<Task<Func<Task>>> acquire)
    {
        var start = Stopwatch.GetTimestamp();
        var release = await acquire();
        var took = Stopwatch.GetElapsedTime(start);
        b5[variant].Add(took.TotalMilliseconds);
        b5Watch[variant] += took;
        await release();
    }

    async Task<Func<Task>> GrainAcquire(string name)
    {
        var result = await locks.TryAcquireAsync(name, ttl);
        return async () => await result.Handle!.DisposeAsync();
    }

    async Task<Func<Task>> RawAcquire(string name)
    {
        var holder = Guid.NewGuid();
        var epoch = await raw.AcquireAsync(name, holder, rawKey, ttl);
        return () => raw.ReleaseAsync(name, holder, rawKey, epoch);
    }

    for (var i = 0; i < b5Count; i++)
    {
        await Sample("grains, cold", () => GrainAcquire($"b5-grain/{i}"));
    }

    for (var i = 0; i < b5Count; i++)
    {
        await Sample("grains, warm", () => GrainAcquire($"b5-grain/{i}"));
        await Sample("raw Npgsql", () => RawAcquire($"b5-raw/{i}"));
    }

    foreach (var (variant, samples) in b5)
    {
        var sorted = samples.Order().ToArray();
        results.Add(new Measurement("B5 uncontended acquire", variant, sorted.Length, b5Watch[variant], Measurement.Percentile(sorted, 0.5), Measurement.Percentile(sorted, 0.99),
            variant == "grains, cold" ? "one caller; the first acquire of each lock" : "one caller; warm and raw alternate sample by sample"));
    }
}

// ---- B6: scaling curve, 1 to 256 concurrent workers on 10 000 locks; B7: 64 workers handing 4 hot locks along.
var b6Workers = smoke ? new[] { 1, 4 } : [1, 4, 16, 64, 256];
if (!args.Contains("--only-renewal"))
{
    var b6Raw = new RawStore(dataSource, serviceId);
    var b6Key = LeaseKey.New().Hash();
    var b6Advisory = new PostgresDistributedSynchronizationProvider(pooled);
    var b6 = await Scaling.RunB6Async(b6Workers, smoke ? 200 : 10_000, TimeSpan.FromSeconds(smoke ? 0.3 : 1), TimeSpan.FromSeconds(smoke ? 0.5 : 4),
    [
        ("grains (SDK)", "b6-grain", async name =>
        {
            var result = await locks.TryAcquireAsync(name, ttl);
            if (!result.Acquired)
            {
                throw new InvalidOperationException($"B6: {name} was not granted ({result.Outcome})");
            }

            await result.Handle!.ReleaseAsync();
            await result.Handle.DisposeAsync();
        }),
        ("raw Npgsql (same SQL)", "b6-raw", async name =>
        {
            var holder = Guid.NewGuid();
            var epoch = await b6Raw.AcquireAsync(name, holder, b6Key, ttl);
            await b6Raw.ReleaseAsync(name, holder, b6Key, epoch);
        }),
        ("DistributedLock.Postgres (advisory)", "b6-dl", async name =>
        {
            await using var handle = await b6Advisory.CreateLock(new PostgresAdvisoryLockKey(name, allowHashing: true)).AcquireAsync();
        }),
    ]);
    results.AddRange(b6);
    if (Arg("--plot") is { } plotPath && !smoke)
    {
        Scaling.Plot(b6, b6Workers, plotPath);
        Console.WriteLine($"B6 plot: {plotPath}");
    }

    var hot = Enumerable.Range(0, smoke ? 2 : 4).Select(i => $"b7/{i}").ToArray();
    var b7Workers = smoke ? 8 : 64;
    var b7Duration = TimeSpan.FromSeconds(smoke ? 1 : 6);
    results.Add(await Scaling.RunB7Async("grains (SDK)", b7Workers, hot, b7Duration, async (name, token) =>
    {
        var result = await locks.AcquireAsync(name, ttl, TimeSpan.FromMinutes(1), token);
        if (!result.Acquired)
        {
            throw new InvalidOperationException($"B7: {name} was not granted within a minute ({result.Outcome})");
        }

        return async () =>
        {
            await result.Handle!.ReleaseAsync();
            await result.Handle.DisposeAsync();
        };
    }));
    results.Add(await Scaling.RunB7Async("DistributedLock.Postgres (advisory)", b7Workers, hot, b7Duration, async (name, token) =>
    {
        var handle = await b6Advisory.CreateLock(new PostgresAdvisoryLockKey("b7-dl/" + name, allowHashing: true)).AcquireAsync(cancellationToken: token);
        return async () => await handle.DisposeAsync();
    }));
    foreach (var m in results.Where(r => r.Scenario == Scaling.B7))
    {
        Console.WriteLine($"{m.Scenario,-24} {m.Variant,-38} {m.PerSecond,8:0} hand-offs/s  p50 {m.P50Ms:0.00} ms  p99 {m.P99Ms:0.00} ms");
    }

    var b6Counts = await raw.CountsAsync("b6-grain/");
    var b7Counts = await raw.CountsAsync("b7/");
    var b6Pairs = results.Where(r => r.Scenario.StartsWith(Scaling.B6, StringComparison.Ordinal) && r.Variant == "grains (SDK)").Sum(r => r.Operations);
    checks.Add($"B6 grains: {b6Counts.Grants} grants and {b6Counts.Releases} releases in history (measured passes: {b6Pairs} pairs, plus warm-ups)");
    checks.Add($"B7 grains: {b7Counts.Grants} grants and {b7Counts.Releases} releases in history for {results.Single(r => r.Scenario == Scaling.B7 && r.Variant == "grains (SDK)").Operations} hand-offs counted");
    if (b6Counts.Grants != b6Counts.Releases || b6Counts.Grants < b6Pairs || b7Counts.Grants - b7Counts.Releases is < 0 or > 4)
    {
        throw new InvalidOperationException("B6/B7: history does not match the operations counted (a grant or release answered without its history row?)");
    }
}

// ---- B3 / B4: renewal load at 1 000 / 10 000 / 100 000 held leases, and silo memory per held lease.
var b3Ttl = smoke ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(60);
var b3Window = TimeSpan.FromMilliseconds(100); // the silo's CycleLock:Locks:CoalescingWindow (default)
var b3 = new RenewalLoad(client, dataSource, serviceId, silo, b3Ttl, b3Window);
RenewalLoadResult? renewal = null;
if (!onlyChanges)
{
    renewal = await b3.RunAsync(smoke ? [200] : [1_000, 10_000, 100_000], settle: b3.RenewPeriod, periods: 2, Console.WriteLine);
    foreach (var row in renewal.Rows)
    {
        checks.Add(row.Format(b3Window));
        if (row.RenewedInWindow != row.Leases || row.HeldAtEnd != row.Leases)
        {
            throw new InvalidOperationException($"B3 at {row.Leases}: {row.RenewedInWindow} renewed in the window and {row.HeldAtEnd} held at the end (expected every lease)");
        }
    }

    checks.Add(renewal.FormatMemory());
}

Report.Print(results, checks, fsyncPerSecond);
var json = Arg("--json") ?? Path.Combine(Path.GetTempPath(), $"cyclelock-bench-{DateTime.UtcNow:yyyyMMddHHmmss}.json");
await File.WriteAllTextAsync(json, JsonSerializer.Serialize(new
{
    machine = new { cores = Environment.ProcessorCount, os = Environment.OSVersion.ToString(), dotnet = Environment.Version.ToString() },
    postgres = settings,
    fsyncPerSecond,
    commitsPerOwnershipChange = commitsPerChange,
    smoke,
    results = results.Select(r => new { r.Scenario, r.Variant, r.Operations, seconds = r.Elapsed.TotalSeconds, perSecond = r.PerSecond, p50Ms = Finite(r.P50Ms), p99Ms = Finite(r.P99Ms), r.Note }),
    ratios = Report.Ratios(results, fsyncPerSecond),
    renewal = renewal is null ? null : new
    {
        ttlSeconds = b3Ttl.TotalSeconds,
        renewPeriodSeconds = b3.RenewPeriod.TotalSeconds,
        tickMs = b3Window.TotalMilliseconds,
        sizes = renewal.Rows.Select(r => new
        {
            r.Leases, seconds = r.Elapsed.TotalSeconds, r.Statements, r.SingleStatements, statementsPerSecond = r.StatementsPerSecond,
            statementsPerTick = r.StatementsPerTick(b3Window), rowsPerSecond = r.RowsPerSecond, r.ExpectedRowsPerSecond, r.RowsRatio,
            renewalsPerSecond = r.ObservedRenewalsPerSecond, r.LeasesPerPeriod, renewalRatio = Finite(r.RenewalRatio), minIntervalSeconds = Finite(r.MinIntervalSeconds), maxIntervalSeconds = Finite(r.MaxIntervalSeconds), r.RenewedInWindow, r.HeldAtEnd,
        }),
        memory = new { renewal.Leases, rssBeforeBytes = renewal.RssBeforeBytes, rssAfterBytes = renewal.RssAfterBytes, bytesPerLease = renewal.BytesPerLease },
    },
    checks,
}, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"JSON: {json}");
await host.StopAsync();
return 0;

static double? Finite(double value) => double.IsFinite(value) ? value : null;
