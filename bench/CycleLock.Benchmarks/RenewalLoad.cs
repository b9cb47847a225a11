using System.Diagnostics;
using System.Globalization;
using CycleLock.Testing;
using Npgsql;

namespace CycleLock.Benchmarks;

/// <summary>
/// B3 (renewal load) and B4 (memory per held lease): holds 1 000, then 10 000, then 100 000 leases at one
/// TTL and measures, per size, over whole renew periods after the leases settled, the renewal statements
/// the silo sent (PostgreSQL's own function-call counters, <c>track_functions = pl</c>) and the rows
/// updated (<c>pg_stat_user_tables.n_tup_upd</c> of the lease table) against Σ 1/P over every held lease of
/// the service. Keep-alives are driven by this client: a sweep calls every lease's grain once per P
/// (ht/3), 64 calls in flight; every answer must be <c>Held</c>. At the end every lease must have been
/// renewed during the measurement and still be held in the database. B4 is the silo's RSS growth while
/// the 100 000 leases were taken, divided by the leases.
/// </summary>
public sealed class RenewalLoad(IClusterClient client, NpgsqlDataSource dataSource, string serviceId, SiloProcess silo, TimeSpan ttl, TimeSpan window)
{
    private const int InFlight = 64;
    private readonly List<(ICycleLockGrain Grain, KeepAliveRequest Request)> _held = [];
    private long _notHeld;

    public TimeSpan RenewPeriod => ttl / 6;

    public async Task<RenewalLoadResult> RunAsync(int[] sizes, TimeSpan settle, int periods, Action<string> log)
    {
        await using (var track = dataSource.CreateCommand("ALTER SYSTEM SET track_functions = 'pl'"))
        {
            await track.ExecuteNonQueryAsync();
        }

        await using (var reload = dataSource.CreateCommand("SELECT pg_reload_conf()"))
        {
            await reload.ExecuteNonQueryAsync();
        }

        using var stop = new CancellationTokenSource();
        var sweeper = Task.Run(() => SweepAsync(stop.Token));
        var rows = new List<RenewalLoadRow>();
        var rssBefore = silo.ResidentBytes();
        long rssAfter = 0;
        try
        {
            foreach (var size in sizes)
            {
                var took = await AcquireUpToAsync(size);
                rssAfter = silo.ResidentBytes();
                log(string.Create(CultureInfo.InvariantCulture, $"B3: {size} leases held ({took.TotalSeconds:0.0} s to acquire), settling {settle.TotalSeconds:0} s"));
                await Task.Delay(settle);
                rows.Add(await MeasureAsync(size, RenewPeriod * periods));
                log(rows[^1].Format(window));
            }
        }
        finally
        {
            await stop.CancelAsync();
            await sweeper;
        }

        if (Interlocked.Read(ref _notHeld) > 0)
        {
            throw new InvalidOperationException($"B3: {_notHeld} keep-alives were answered other than Held");
        }

        var largest = sizes[^1];
        return new RenewalLoadResult(rows, rssBefore, rssAfter, largest);
    }

    private async Task<TimeSpan> AcquireUpToAsync(int size)
    {
        var watch = Stopwatch.StartNew();
        int from;
        lock (_held)
        {
            from = _held.Count;
        }

        // Each lease joins the keep-alive sweeps as soon as it is granted (a lease left silent for ht is
        // released as stalled, and acquiring 100 000 takes longer than that).
        await Parallel.ForEachAsync(Enumerable.Range(from, size - from), new ParallelOptions { MaxDegreeOfParallelism = InFlight }, async (i, _) =>
        {
            var grain = client.GetGrain<ICycleLockGrain>($"b3/{i}");
            var request = new AcquireRequest(Guid.NewGuid(), "bench-b3", LeaseKey.New(), ttl);
            var reply = await grain.TryAcquireAsync(request);
            if (reply.Status != AcquireStatus.Granted)
            {
                throw new InvalidOperationException($"B3: acquiring b3/{i} answered {reply.Status}");
            }

            lock (_held)
            {
                _held.Add((grain, new KeepAliveRequest(request.HolderId, request.Key, reply.Epoch)));
            }
        });
        return watch.Elapsed;
    }

    // Every held lease's keep-alive once per P (the SDK's interval, ht/3), 64 in flight.
    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            (ICycleLockGrain Grain, KeepAliveRequest Request)[] snapshot;
            lock (_held)
            {
                snapshot = [.. _held];
            }

            await Parallel.ForEachAsync(snapshot, new ParallelOptions { MaxDegreeOfParallelism = InFlight }, async (lease, _) =>
            {
                var reply = await lease.Grain.KeepAliveAsync(lease.Request);
                if (reply.Status != KeepAliveStatus.Held)
                {
                    Interlocked.Increment(ref _notHeld);
                }
            });
            var left = RenewPeriod - Stopwatch.GetElapsedTime(started);
            try
            {
                await Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<RenewalLoadRow> MeasureAsync(int size, TimeSpan duration)
    {
        // PostgreSQL's counters reach pg_stat views when a backend next goes idle (at most once a second,
        // or after 10 s for a backend that stays idle), so they are read with that lag at both ends. The
        // renewal rate is also measured without it: every lease's renewed_at is sampled every P/4 and each
        // lease's renewals are the distinct values seen, their intervals the database's own timestamps.
        var before = await CountersAsync();
        var started = await DbNowAsync();
        var watch = Stopwatch.StartNew();
        var seen = new Dictionary<string, List<DateTime>>(size);
        while (watch.Elapsed < duration)
        {
            await SampleAsync(seen);
            await Task.Delay(RenewPeriod / 4);
        }

        await SampleAsync(seen);
        var after = await CountersAsync();
        var elapsed = watch.Elapsed;
        var expectedPerSecond = await ExpectedRowsPerSecondAsync();
        var intervals = seen.Values.Where(v => v.Count >= 2).Select(v => (v[^1] - v[0]).TotalSeconds / (v.Count - 1)).ToArray();
        var (renewed, held) = await RenewedAndHeldAsync(started);
        return new RenewalLoadRow(
            size,
            elapsed,
            after.Batches - before.Batches,
            after.Singles - before.Singles,
            after.Updates - before.Updates,
            expectedPerSecond,
            intervals.Sum(i => 1 / i),
            size / RenewPeriod.TotalSeconds,
            intervals.Length == 0 ? double.NaN : intervals.Min(),
            intervals.Length == 0 ? double.NaN : intervals.Max(),
            renewed,
            held);
    }

    private async Task SampleAsync(Dictionary<string, List<DateTime>> seen)
    {
        await using var command = dataSource.CreateCommand("SELECT name, renewed_at FROM cyclelock.lease WHERE service_id = $1 AND name LIKE 'b3/%' AND renewed_at IS NOT NULL");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var name = reader.GetString(0);
            var at = reader.GetDateTime(1);
            if (!seen.TryGetValue(name, out var list))
            {
                seen[name] = list = [];
            }

            if (list.Count == 0 || list[^1] != at)
            {
                list.Add(at);
            }
        }
    }

    private async Task<(long Batches, long Singles, long Updates)> CountersAsync()
    {
        await using var command = dataSource.CreateCommand("""
            SELECT COALESCE((SELECT sum(calls) FROM pg_stat_user_functions WHERE schemaname = 'cyclelock' AND funcname = 'renew_many'), 0)::bigint,
                   COALESCE((SELECT sum(calls) FROM pg_stat_user_functions WHERE schemaname = 'cyclelock' AND funcname = 'renew'), 0)::bigint,
                   (SELECT n_tup_upd FROM pg_stat_user_tables WHERE schemaname = 'cyclelock' AND relname = 'lease')
            """);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    // Every held lease of the service (B3's and any other scenario's) should be renewed once per its P.
    private async Task<double> ExpectedRowsPerSecondAsync()
    {
        await using var command = dataSource.CreateCommand(
            "SELECT COALESCE(sum(1.0 / (extract(epoch FROM ttl) / 6)), 0)::float8 FROM cyclelock.lease WHERE service_id = $1 AND state = 'held'");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        return (double)(await command.ExecuteScalarAsync())!;
    }

    private async Task<(long Renewed, long Held)> RenewedAndHeldAsync(DateTime since)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT count(*) FILTER (WHERE renewed_at >= $2), count(*) FILTER (WHERE state = 'held' AND expires_at > clock_timestamp())
            FROM cyclelock.lease WHERE service_id = $1 AND name LIKE 'b3/%'
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = since });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private async Task<DateTime> DbNowAsync()
    {
        await using var command = dataSource.CreateCommand("SELECT clock_timestamp()");
        return (DateTime)(await command.ExecuteScalarAsync())!;
    }
}
