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
    public static async Task<CheckInput> GatherAsync(string connection, string serviceId, ChaosSettings settings, IReadOnlyList<FaultRecord> faults, long renewalRetries, long movedAnswers)
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

        var lines = Enumerable.Range(0, settings.Workers)
            .Select(i => Path.Combine(settings.Directory, $"worker-{i}.jsonl"))
            .Where(File.Exists)
            .SelectMany(JsonLog.Read)
            .ToList();
        var samples = lines.Where(l => l.Kind == "clock")
            .Select(l => new ClockSample(l.Worker, l.WorkerUtc!.Value, l.DbUtc!.Value, TimeSpan.FromMilliseconds(l.RoundTripMs))).ToList();
        var beliefs = lines.Where(l => l.Kind == "belief")
            .Select(l => new BeliefInterval(l.Worker, l.Lock!, l.Epoch, l.Holder, l.Start!.Value, l.End!.Value)).ToList();
        var losses = lines.Where(l => l.Kind == "lost")
            .Select(l => new LossRecord(l.Lock!, l.Epoch, l.Holder, l.Worker, l.End!.Value, l.Reason ?? "lost")).ToList();
        var bite = new BiteEvidence(
            lines.Count(l => l.Kind == "rejected"),
            TakeoversAfterStop(grants, beliefs, faults),
            (int)Math.Min(movedAnswers + lines.Count(l => l.Kind == "moved"), int.MaxValue),
            (int)Math.Min(renewalRetries, int.MaxValue));
        return new CheckInput(grants, writes, samples, beliefs, faults, losses, bite, ChaosHarness.FaultKinds, TimeSpan.FromMilliseconds(5));
    }

    // A lock granted to someone else while the worker that held it before was stopped.
    private static int TakeoversAfterStop(List<GrantRecord> grants, List<BeliefInterval> beliefs, IReadOnlyList<FaultRecord> faults)
    {
        var workerOf = beliefs.GroupBy(b => b.Holder).ToDictionary(g => g.Key, g => g.First().Worker);
        var count = 0;
        foreach (var fault in faults.Where(f => f.Kind.StartsWith("worker-stop", StringComparison.Ordinal)))
        {
            foreach (var lockGrants in grants.GroupBy(g => g.Lock))
            {
                var ordered = lockGrants.OrderBy(g => g.Epoch).ToList();
                for (var i = 1; i < ordered.Count; i++)
                {
                    var previous = ordered[i - 1];
                    if (workerOf.TryGetValue(previous.Holder, out var worker) && $"worker-{worker}" == fault.Target
                        && previous.GrantCommittedAt < fault.StartDbUtc
                        && ordered[i].GrantCommittedAt > fault.StartDbUtc && ordered[i].GrantCommittedAt < fault.EndDbUtc + TimeSpan.FromSeconds(5))
                    {
                        count++;
                    }
                }
            }
        }

        return count;
    }
}
