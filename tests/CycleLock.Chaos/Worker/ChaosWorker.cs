using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using CycleLock.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;

namespace CycleLock.Chaos.Worker;

/// <summary>
/// One chaos worker process: contends for the run's locks through the SDK and, while it holds one, writes
/// through the epoch guard into <c>chaos.protected</c>. It logs what it believed (from receiving a grant to
/// the earlier of ValidUntil, the moment it learned of a loss, and its release) and samples the database
/// clock every 2 s, so the checker can compare beliefs with grants on one clock. Commands on stdin:
/// <c>pause-before-guard</c> / <c>pause-in-guard</c> make the next guarded write announce itself on stdout
/// (<c>PAUSE-POINT</c>) and wait there briefly, so the harness can SIGSTOP the process exactly before its
/// guard or inside its guarded transaction. With <c>--gateway-b</c> it also holds one lock whose
/// keep-alives alternate between the main cluster and a second cluster of the same ServiceId, which makes
/// duplicate activations displace each other ("moved").
/// </summary>
public sealed class ChaosWorker
{
    private readonly int _id;
    private readonly string _serviceId;
    private readonly int _locks;
    private readonly TimeSpan _ttl;
    private readonly JsonLog _log;
    private readonly NpgsqlDataSource _db;
    private readonly Random _random;
    private volatile string? _pause;
    private volatile bool _longHold;
    private volatile TaskCompletionSource? _resume;
    private long _sequence;

    private ChaosWorker(int id, string serviceId, int locks, TimeSpan ttl, JsonLog log, NpgsqlDataSource db)
    {
        _id = id;
        _serviceId = serviceId;
        _locks = locks;
        _ttl = ttl;
        _log = log;
        _db = db;
        _random = new Random(id * 7919);
    }

    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? throw new ArgumentException($"{name} is required");
        var id = int.Parse(Arg("--id"), CultureInfo.InvariantCulture);
        var serviceId = Arg("--service-id");
        var gateways = args.Select((a, i) => (a, i)).Where(p => p.a == "--gateway").Select(p => IPEndPoint.Parse(args[p.i + 1])).ToArray();
        var gatewayB = args.SkipWhile(a => a != "--gateway-b").Skip(1).FirstOrDefault();
        var ttl = TimeSpan.FromSeconds(double.Parse(Arg("--ttl-seconds"), CultureInfo.InvariantCulture));
        var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });

        Console.WriteLine($"connecting to {string.Join(", ", gateways.Select(g => g.ToString()))}");
        using var main = Client(gateways, serviceId, "chaos", $"worker-{id}");
        await main.StartAsync();
        Console.WriteLine("connected");
        await using var db = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(Arg("--connection")) { MaxPoolSize = 4, Timeout = 5, CommandTimeout = 60 }.ConnectionString);
        using var log = new JsonLog(Arg("--log"));
        var worker = new ChaosWorker(id, serviceId, int.Parse(Arg("--locks"), CultureInfo.InvariantCulture), ttl, log, db);
        _ = Task.Run(() => worker.ReadCommandsAsync(stop));
        var tasks = new List<Task>
        {
            worker.ContendAsync(main.Services.GetRequiredService<CycleLockClient>(), stop.Token),
            worker.SampleClockAsync(stop.Token),
        };
        IHost? second = null;
        if (gatewayB is not null)
        {
            second = Client([IPEndPoint.Parse(gatewayB)], serviceId, "chaos-b", $"worker-{id}-b");
            await second.StartAsync();
            Console.WriteLine("connected to the second cluster");
            tasks.Add(worker.MoveAsync(main.Services.GetRequiredService<IClusterClient>(), second.Services.GetRequiredService<IClusterClient>(), stop.Token));
        }

        Console.WriteLine("READY");
        await Task.WhenAll(tasks);
        if (second is not null)
        {
            await second.StopAsync(CancellationToken.None);
            second.Dispose();
        }

        await main.StopAsync(CancellationToken.None);
        return 0;
    }

    private static IHost Client(IPEndPoint[] gateways, string serviceId, string clusterId, string label)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.AddCycleLockClient(
            c =>
            {
                c.UseStaticClustering(gateways);
                c.Configure<ClusterOptions>(o =>
                {
                    o.ServiceId = serviceId;
                    o.ClusterId = clusterId;
                });
                c.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
            },
            o => o.HolderLabel = label);
        return builder.Build();
    }

    private async Task ReadCommandsAsync(CancellationTokenSource stop)
    {
        while (await Console.In.ReadLineAsync() is { } line)
        {
            switch (line.Trim())
            {
                case "pause-before-guard" or "pause-in-guard":
                    _pause = line.Trim();
                    break;
                case "long-hold":
                    _longHold = true;
                    break;
                case "resume":
                    _resume?.TrySetResult();
                    break;
                case "stop":
                    await stop.CancelAsync();
                    return;
            }
        }
    }

    private async Task ContendAsync(CycleLockClient client, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            var name = $"chaos/{_random.Next(_locks)}";
            AcquireResult result;
            try
            {
                result = await client.TryAcquireAsync(name, _ttl, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _log.Write(new LogLine("error", _id, name, Reason: "acquire: " + e.GetType().Name));
                await Delay(TimeSpan.FromMilliseconds(200), stopping);
                continue;
            }

            if (result.Handle is not { } handle)
            {
                await Delay(TimeSpan.FromMilliseconds(_random.Next(5, 40)), stopping);
                continue;
            }

            await HoldAsync(handle, stopping);
        }
    }

    private async Task HoldAsync(LockHandle handle, CancellationToken stopping)
    {
        var start = DateTimeOffset.UtcNow;
        var startMono = Stopwatch.GetTimestamp();
        DateTimeOffset? learnedLost = null;
        using var lost = handle.LostToken.Register(() => learnedLost ??= DateTimeOffset.UtcNow);

        // A long hold writes every 300 ms for up to 2 × TTL, through database faults (a failed write is
        // logged and the hold goes on) until the handle says the lock is lost: for the blackhole (a holder
        // cut off from the silos that still reaches the database) and for leases that must survive the
        // database and silo faults.
        var longHold = _longHold;
        _longHold = false;
        if (longHold)
        {
            Console.WriteLine($"LONG-HOLD {handle.Name} {handle.Epoch}");
        }

        try
        {
            var writes = longHold ? int.MaxValue : _random.Next(1, 4);
            var gap = longHold ? TimeSpan.FromMilliseconds(300) : TimeSpan.FromMilliseconds(_random.Next(10, 60));
            var until = DateTimeOffset.UtcNow + (_ttl * 2);
            for (var i = 0; i < writes && !stopping.IsCancellationRequested && DateTimeOffset.UtcNow < until; i++)
            {
                handle.EnsureHeld();
                try
                {
                    await GuardedWriteAsync(handle, stopping);
                }
                catch (Exception e) when (longHold && e is NpgsqlException or TimeoutException && !stopping.IsCancellationRequested)
                {
                    _log.Write(new LogLine("error", _id, handle.Name, handle.Epoch, handle.HolderId, Reason: "write: " + e.GetType().Name + ": " + e.Message));
                }

                await Task.Delay(gap, handle.LostToken);
            }
        }
        catch (EpochGuardRejectedException e)
        {
            _log.Write(new LogLine("rejected", _id, handle.Name, handle.Epoch, handle.HolderId, Reason: e.Reason));
        }
        catch (Exception e) when (e is LockLostException || (e is OperationCanceledException && handle.LostToken.IsCancellationRequested))
        {
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.Write(new LogLine("error", _id, handle.Name, handle.Epoch, handle.HolderId, Reason: "write: " + e.GetType().Name + ": " + e.Message));
        }
        finally
        {
            // The belief ends at the earliest of ValidUntil, the moment a loss was learned, and the release.
            var state = handle.State;
            var end = Min(Min(handle.ValidUntil, DateTimeOffset.UtcNow), learnedLost ?? DateTimeOffset.MaxValue);
            _log.Write(new LogLine("belief", _id, handle.Name, handle.Epoch, handle.HolderId, start, end, MonotonicMs: Stopwatch.GetElapsedTime(startMono).TotalMilliseconds));
            if (state == LockHandleState.Lost)
            {
                _log.Write(new LogLine("lost", _id, handle.Name, handle.Epoch, handle.HolderId, End: end, Reason: handle.EndReason));
            }
            else
            {
                await ReleaseAsync(handle, end);
            }
        }

        await handle.DisposeAsync();
    }

    // Releases; a release that finds the lease already ended (released as stalled, lost) is a loss too.
    private async Task ReleaseAsync(LockHandle handle, DateTimeOffset end)
    {
        try
        {
            var reply = await handle.ReleaseAsync(ReleaseReason.Completed, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15), CancellationToken.None);
            // AlreadyReleased "completed" is this holder's own release, applied by an earlier attempt whose
            // reply was lost (the SDK retried): not a loss.
            if (reply is { Status: ReleaseStatus.Lost } or { Status: ReleaseStatus.AlreadyReleased, RecordedReason: not "completed" })
            {
                _log.Write(new LogLine("lost", _id, handle.Name, handle.Epoch, handle.HolderId, End: end, Reason: "release found " + reply.Status + ": " + reply.RecordedReason));
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.Write(new LogLine("error", _id, handle.Name, handle.Epoch, handle.HolderId, Reason: "release: " + e.GetType().Name));
        }
    }

    private async Task GuardedWriteAsync(LockHandle handle, CancellationToken stopping)
    {
        var pause = _pause;
        if (pause == "pause-before-guard")
        {
            await PausePointAsync(handle, pause);
        }

        await using var connection = await _db.OpenConnectionAsync(stopping);
        await using var transaction = await connection.BeginTransactionAsync(stopping);
        await connection.GuardAsync(transaction, _serviceId, handle, stopping);
        if (pause == "pause-in-guard")
        {
            await PausePointAsync(handle, pause);
        }

        var sequence = Interlocked.Increment(ref _sequence);
        await using (var insert = new NpgsqlCommand("INSERT INTO chaos.protected (lock, epoch, holder, worker, seq) VALUES ($1, $2, $3, $4, $5)", connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = handle.Name });
            insert.Parameters.Add(new NpgsqlParameter { Value = handle.Epoch });
            insert.Parameters.Add(new NpgsqlParameter { Value = handle.HolderId });
            insert.Parameters.Add(new NpgsqlParameter { Value = _id });
            insert.Parameters.Add(new NpgsqlParameter { Value = sequence });
            await insert.ExecuteNonQueryAsync(CancellationToken.None);
        }

        await transaction.CommitAsync(CancellationToken.None);
        _log.Write(new LogLine("write", _id, handle.Name, handle.Epoch, handle.HolderId, Sequence: sequence));
    }

    // Announce the pause point and wait there until the harness, having stopped and continued the
    // process, says "resume" (or 3 × TTL pass), so the stop lands exactly here however busy the machine is.
    private async Task PausePointAsync(LockHandle handle, string pause)
    {
        _pause = null;
        var resume = _resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Console.WriteLine($"PAUSE-POINT {pause} {handle.Name} {handle.Epoch}");
        await resume.Task.WaitAsync(_ttl * 3).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task SampleClockAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var command = _db.CreateCommand("SELECT clock_timestamp()");
                var before = DateTimeOffset.UtcNow;
                var watch = Stopwatch.StartNew();
                var db = (DateTime)(await command.ExecuteScalarAsync(stopping))!;
                var roundTrip = watch.Elapsed;
                _log.Write(new LogLine("clock", _id, WorkerUtc: before + (roundTrip / 2), DbUtc: new DateTimeOffset(DateTime.SpecifyKind(db, DateTimeKind.Utc)), RoundTripMs: roundTrip.TotalMilliseconds,
                    MonotonicMs: Stopwatch.GetElapsedTime(Origin).TotalMilliseconds - (roundTrip.TotalMilliseconds / 2)));
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await Delay(TimeSpan.FromSeconds(2), stopping);
        }
    }

    // One lock held with raw grain calls whose keep-alives alternate between the two clusters.
    private async Task MoveAsync(IClusterClient main, IClusterClient second, CancellationToken stopping)
    {
        var name = $"chaos-moved/{_id}";
        var clusters = new[] { main.GetGrain<ICycleLockGrain>(name), second.GetGrain<ICycleLockGrain>(name) };
        while (!stopping.IsCancellationRequested)
        {
            var request = new AcquireRequest(Guid.NewGuid(), $"worker-{_id}-mover", LeaseKey.New(), _ttl);
            try
            {
                var reply = await clusters[0].TryAcquireAsync(request, stopping);
                if (reply.Status != AcquireStatus.Granted)
                {
                    await Delay(TimeSpan.FromSeconds(1), stopping);
                    continue;
                }

                var keepAlive = new KeepAliveRequest(request.HolderId, request.Key, reply.Epoch);
                for (var round = 0; round < 100 && !stopping.IsCancellationRequested; round++)
                {
                    // Each call bounded like the SDK's (kt = 2 s), so a dead silo on one side does not starve the
                    // other side's keep-alives past ht.
                    KeepAliveReply answer;
                    using (var call = CancellationTokenSource.CreateLinkedTokenSource(stopping))
                    {
                        call.CancelAfter(TimeSpan.FromSeconds(2));
                        try
                        {
                            answer = await clusters[round % 2].KeepAliveAsync(keepAlive, call.Token);
                        }
                        catch (Exception e) when (!stopping.IsCancellationRequested && e is not OutOfMemoryException)
                        {
                            continue;
                        }
                    }

                    if (answer.Status == KeepAliveStatus.Moved)
                    {
                        _log.Write(new LogLine("moved", _id, name, reply.Epoch, request.HolderId));
                    }
                    else if (answer.Status is KeepAliveStatus.Lost or KeepAliveStatus.Released)
                    {
                        // The mover drives duplicate activations with raw calls, not the SDK's keep-alive
                        // discipline, so its losses are reported, not judged by the loss rule.
                        _log.Write(new LogLine("mover-lost", _id, name, reply.Epoch, request.HolderId, End: DateTimeOffset.UtcNow, Reason: "mover keep-alive answered " + answer.Status));
                        break;
                    }

                    await Delay(TimeSpan.FromMilliseconds(300), stopping);
                }

                await clusters[0].ReleaseAsync(new ReleaseRequest(request.HolderId, request.Key, reply.Epoch, ReleaseReason.Completed), CancellationToken.None);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _log.Write(new LogLine("error", _id, name, Reason: "mover: " + e.GetType().Name));
                await Delay(TimeSpan.FromSeconds(1), stopping);
            }
        }
    }

    // The process's monotonic origin: clock samples carry (monotonic, UTC) pairs, so a step of the
    // worker's wall clock shows as a change of their difference.
    private static readonly long Origin = Stopwatch.GetTimestamp();

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static async Task Delay(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
