using CycleLock.Chaos.Checking;
using CycleLock.Chaos.Worker;
using Npgsql;

namespace CycleLock.Chaos.Harness;

/// <summary>
/// Gathers the checker's input from independent sources: grants and their ends from history with the
/// commit timestamps of the transactions that wrote them (<c>pg_xact_commit_timestamp(xmin)</c>, never the
/// rows' own <c>at</c>), protected writes in commit order, the workers' logs (beliefs, clock samples,
/// losses, guard rejections, moved answers), the harness's fault log and the silos' renewal retries.
/// </summary>
public static class Evidence
{
    public static async Task<CheckInput> GatherAsync(
        string connection, string serviceId, ChaosSettings settings, IReadOnlyList<FaultRecord> faults, IReadOnlyList<WorkerFault> workerFaults,
        IReadOnlyList<string> unbitten, long renewalRetries, long movedAnswers)
    {
        await using var db = NpgsqlDataSource.Create(connection);
        var grants = new List<GrantRecord>();
        await using (var command = db.CreateCommand("""
            SELECT g.name, g.epoch, g.holder_id, pg_xact_commit_timestamp(g.xmin), e.event, pg_xact_commit_timestamp(e.xmin)
            FROM cyclelock.history g
            LEFT JOIN cyclelock.history e ON e.service_id = g.service_id AND e.name = g.name AND e.epoch = g.epoch AND e.is_end
            WHERE g.service_id = $1 AND g.event = 'granted'
            ORDER BY g.name, g.epoch
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                grants.Add(new GrantRecord(
                    reader.GetString(0), reader.GetInt64(1), reader.GetGuid(2), reader.GetFieldValue<DateTimeOffset>(3),
                    reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
                    reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }

        var writes = new List<ProtectedWrite>();
        await using (var command = db.CreateCommand("""
            SELECT lock, epoch, holder, seq, pg_xact_commit_timestamp(xmin) AS committed
            FROM chaos.protected
            ORDER BY committed, xmin::text::bigint, id
            """))
        {
            await using var reader = await command.ExecuteReaderAsync();
            ulong order = 0;
            while (await reader.ReadAsync())
            {
                writes.Add(new ProtectedWrite(reader.GetString(0), reader.GetInt64(1), reader.GetGuid(2), reader.GetInt64(3), reader.GetFieldValue<DateTimeOffset>(4), order++));
            }
        }

        var logs = Enumerable.Range(0, settings.Workers).Select(i => Path.Combine(settings.Directory, $"worker-{i}.jsonl")).ToList();
        var missing = logs.Where(l => !File.Exists(l)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"worker logs missing (no evidence is not clean evidence): {string.Join(", ", missing)}");
        }

        var lines = logs.SelectMany(JsonLog.Read).ToList();
        var samples = lines.Where(l => l.Kind == "clock")
            .Select(l => new ClockSample(l.Worker, l.WorkerUtc!.Value, l.DbUtc!.Value, TimeSpan.FromMilliseconds(l.RoundTripMs))).ToList();
        var beliefs = lines.Where(l => l.Kind == "belief")
            .Select(l => new BeliefInterval(l.Worker, l.Lock!, l.Epoch, l.Holder, l.Start!.Value, l.End!.Value)).ToList();
        var losses = lines.Where(l => l.Kind == "lost")
            .Select(l => new LossRecord(l.Lock!, l.Epoch, l.Holder, l.Worker, l.End!.Value, l.Reason ?? "lost")).ToList();
        var bite = new BiteEvidence(
            lines.Count(l => l.Kind == "rejected"),
            TakeoversAfterStop(grants, workerFaults),
            (int)Math.Min(movedAnswers + lines.Count(l => l.Kind == "moved"), int.MaxValue),
            (int)Math.Min(renewalRetries, int.MaxValue),
            [.. unbitten, .. WorkerFaultsThatDidNothing(workerFaults, lines, writes), .. FaultsNoHoldSpanned(faults, beliefs)]);
        return new CheckInput(grants, writes, samples, beliefs, faults, losses, bite, ChaosHarness.FaultKinds, TimeSpan.FromMilliseconds(5));
    }

    // The lease the stopped worker held (named at its pause point) granted to someone else during the
    // stop or just after it.
    private static int TakeoversAfterStop(List<GrantRecord> grants, IReadOnlyList<WorkerFault> workerFaults) =>
        workerFaults.Where(f => f.Kind == "worker-stop")
            .Count(f => grants.Any(g => g.Lock == f.Lock && g.Epoch > f.Epoch && g.GrantCommittedAt > f.Start && g.GrantCommittedAt < f.End + TimeSpan.FromSeconds(5)));

    // A stop or a blackhole must cost the worker the lease it held; a stop inside the guard must end with
    // that epoch's write committing after the stop (nobody could be granted the lock meanwhile).
    private static IEnumerable<string> WorkerFaultsThatDidNothing(IReadOnlyList<WorkerFault> workerFaults, List<LogLine> lines, List<ProtectedWrite> writes)
    {
        foreach (var f in workerFaults)
        {
            if (f.Kind is "worker-stop" or "worker-blackhole"
                && !lines.Any(l => l.Kind == "lost" && l.Worker == f.Worker && l.Lock == f.Lock && l.Epoch == f.Epoch))
            {
                yield return $"{f.Kind} on worker-{f.Worker}: its lease {f.Lock} epoch {f.Epoch} was not lost";
            }

            if (f.Kind == "worker-stop-in-guard" && !writes.Any(w => w.Lock == f.Lock && w.Epoch == f.Epoch && w.CommittedAt > f.End))
            {
                yield return $"{f.Kind} on worker-{f.Worker}: no write of {f.Lock} epoch {f.Epoch} committed after the stop";
            }
        }
    }

    // Every database and silo fault must have had a lease held across all of it.
    private static IEnumerable<string> FaultsNoHoldSpanned(IReadOnlyList<FaultRecord> faults, List<BeliefInterval> beliefs) =>
        faults.Where(f => !f.ExpectsLoss && !beliefs.Any(b => b.StartWorkerUtc <= f.StartDbUtc && b.EndWorkerUtc >= f.EndDbUtc))
            .Select(f => $"{f.Kind} at {f.StartDbUtc:HH:mm:ss.fff}: no lease was held across it");
}
