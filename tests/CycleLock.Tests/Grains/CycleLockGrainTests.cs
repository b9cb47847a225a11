using System.Diagnostics;
using CycleLock.Client;
using CycleLock.Tests.Infrastructure;
using Npgsql;

namespace CycleLock.Tests.Grains;

/// <summary>CycleLockGrain on an in-process cluster with the real PostgreSQL store, in real time.</summary>
[Collection(RealTimeCollection.Name)]
public sealed class CycleLockGrainTests(RealTimeClusterFixture fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private readonly IClusterClient _client = fixture.Cluster.Client;
    private readonly PostgresFixture _postgres = fixture.Postgres;
    private readonly string _serviceId = fixture.Cluster.ServiceId;

    private static string NewName() => "grain-test/" + Guid.NewGuid().ToString("N")[..10];

    private async Task<(ICycleLockGrain Grain, AcquireRequest Request, AcquireReply Reply)> AcquireAsync(string name, TimeSpan? ttl = null)
    {
        var grain = _client.GetGrain<ICycleLockGrain>(name);
        var request = new AcquireRequest(Guid.NewGuid(), "test-holder", LeaseKey.New(), ttl ?? Ttl);
        var reply = await grain.TryAcquireAsync(request);
        Assert.True(reply.Status == AcquireStatus.Granted, $"acquire {name}: expected Granted, got {reply.Status}");
        return (grain, request, reply);
    }

    private async Task<NpgsqlDataReader> RowAsync(NpgsqlConnection connection, string name)
    {
        var command = new NpgsqlCommand("SELECT state, epoch, renewed_at, expires_at, expires_at > clock_timestamp(), attempts, stalls FROM cyclelock.lease WHERE service_id = $1 AND name = $2", connection);
        command.Parameters.Add(new() { Value = _serviceId });
        command.Parameters.Add(new() { Value = name });
        var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"no row for {name}");
        return reader;
    }

    [Fact]
    public async Task ConcurrentGrantsAndReleasesThroughGrains_ShareCommits_EachRecordedInHistory()
    {
        // 64 grains acquiring and then releasing at once: their ownership changes go through the silo's change queue,
        // so they share transactions (the history rows of one batch carry one xmin), and each is in history once.
        var names = Enumerable.Range(0, 64).Select(_ => NewName()).ToArray();
        var granted = await Task.WhenAll(names.Select(n => AcquireAsync(n)));
        await Task.WhenAll(granted.Select(g => g.Grain.ReleaseAsync(new ReleaseRequest(g.Request.HolderId, g.Request.Key, g.Reply.Epoch, ReleaseReason.Completed))));

        await using var command = _postgres.DataSource.CreateCommand(
            "SELECT event, count(*), count(DISTINCT xmin::text) FROM cyclelock.history WHERE service_id = $1 AND name = ANY ($2) GROUP BY event ORDER BY event");
        command.Parameters.Add(new() { Value = _serviceId });
        command.Parameters.Add(new() { Value = names });
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string Event, long Rows, long Transactions)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        TestContext.Current.SendDiagnosticMessage("history: " + string.Join(", ", rows.Select(r => $"{r.Event} {r.Rows} rows in {r.Transactions} transactions")));
        Assert.Equal(["granted", "released"], rows.Select(r => r.Event).ToArray());
        Assert.All(rows, r => Assert.Equal(64, r.Rows));
        Assert.All(rows, r => Assert.True(r.Transactions < 32, $"{r.Event}: {r.Transactions} transactions for 64 changes (expected shared commits)"));
    }

    [Fact]
    public async Task KeepAlivesContinue_DatabaseLeaseStaysValidWellPastItsTtl()
    {
        var name = NewName();
        var locks = new CycleLockClient(_client);
        var result = await locks.TryAcquireAsync(name, Ttl);
        await using var handle = result.Handle!;
        var renewals = new List<(DateTime RenewedAt, TimeSpan Left)>();

        var until = DateTime.UtcNow + (Ttl * 1.6);
        while (DateTime.UtcNow < until)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var info = await locks.Grain(name).InspectAsync();
            Assert.True(info.State == LockState.Held && info.Epoch == handle.Epoch, $"at {DateTime.UtcNow:HH:mm:ss.fff}: {info.State} epoch {info.Epoch}");
            if (renewals.Count == 0 || renewals[^1].RenewedAt != info.RenewedAt!.Value.UtcDateTime)
            {
                renewals.Add((info.RenewedAt!.Value.UtcDateTime, info.TimeLeft));
            }
        }

        TestContext.Current.SendDiagnosticMessage("time left at each renewal seen: " + string.Join(", ", renewals.Select(r => $"{r.Left.TotalSeconds:0.0}s")));
        Assert.Equal(LockHandleState.Held, handle.State);
        Assert.True(renewals.Count >= 5, $"expected the grain timer to renew every P ≈ {Ttl / 6}; saw {renewals.Count} renewals");
        Assert.True(handle.Remaining > TimeSpan.Zero);
        Assert.Equal(ReleaseStatus.Released, (await handle.ReleaseAsync())!.Status);
    }

    [Fact]
    public async Task KeepAlivesStop_ReleasedAsStalledAfterHolderTimeoutWithinOneRenewPeriod()
    {
        var name = NewName();
        var (grain, request, reply) = await AcquireAsync(name);
        var keepAlive = new KeepAliveRequest(request.HolderId, request.Key, reply.Epoch);
        var last = DateTimeOffset.UtcNow;
        for (var i = 0; i < 5; i++)
        {
            await Task.Delay(500);
            last = DateTimeOffset.UtcNow;
            Assert.Equal(KeepAliveStatus.Held, (await grain.KeepAliveAsync(keepAlive)).Status);
        }

        var holderTimeout = Ttl / 2;
        var period = Ttl / 6;
        var epsilon = TimeSpan.FromMilliseconds(300);
        LockHistoryEntry? released = null;
        var deadline = last + holderTimeout + period + TimeSpan.FromSeconds(3);
        while (released is null && DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(100);
            released = (await grain.GetHistoryAsync(10, null)).FirstOrDefault(h => h.Event == "released");
        }

        Assert.NotNull(released);
        TestContext.Current.SendDiagnosticMessage($"stall release {(released.At - last).TotalSeconds:0.000}s after the last keep-alive (window {(holderTimeout - epsilon).TotalSeconds:0.0}–{(holderTimeout + period + epsilon).TotalSeconds:0.0}s)");
        Assert.Equal("stalled", released.Reason);
        Assert.InRange(released.At, last + holderTimeout - epsilon, last + holderTimeout + period + epsilon);
        var info = await grain.InspectAsync();
        Assert.Equal((LockState.Free, 1, 0), (info.State, info.Stalls, info.Attempts));
        Assert.Equal(KeepAliveStatus.Released, (await grain.KeepAliveAsync(keepAlive)).Status);
    }

    [Fact]
    public async Task Release_FailedAndRetried_BurnsExactlyOneAttempt()
    {
        var (grain, request, reply) = await AcquireAsync(NewName());
        var release = new ReleaseRequest(request.HolderId, request.Key, reply.Epoch, ReleaseReason.Failed);

        var first = await grain.ReleaseAsync(release);
        var retry = await grain.ReleaseAsync(release);
        await _client.GetGrain<IManagementGrain>(0).DeactivateGrain(grain.GetGrainId());
        var retryOnNewActivation = await grain.ReleaseAsync(release);

        Assert.Equal(ReleaseStatus.Released, first.Status);
        Assert.Equal((ReleaseStatus.AlreadyReleased, "failed"), (retry.Status, retry.RecordedReason));
        Assert.Equal((ReleaseStatus.AlreadyReleased, "failed"), (retryOnNewActivation.Status, retryOnNewActivation.RecordedReason));
        var info = await grain.InspectAsync();
        Assert.Equal((1, 0), (info.Attempts, info.Stalls));
    }

    [Fact]
    public async Task ForcedDeactivation_KeepAliveAdoptsWithSameHolderAndEpoch()
    {
        var (grain, request, reply) = await AcquireAsync(NewName());
        var before = await grain.InspectAsync();

        await _client.GetGrain<IManagementGrain>(0).DeactivateGrain(grain.GetGrainId());
        var afterDeactivation = await grain.InspectAsync();
        var keepAlive = await grain.KeepAliveAsync(new KeepAliveRequest(request.HolderId, request.Key, reply.Epoch));
        var after = await grain.InspectAsync();

        Assert.Equal(before.Activation, afterDeactivation.Activation); // inspect never adopts
        Assert.Equal((KeepAliveStatus.Held, reply.Epoch), (keepAlive.Status, keepAlive.Epoch));
        Assert.True(keepAlive.ValidFor > TimeSpan.Zero);
        Assert.Equal((LockState.Held, reply.Epoch, request.HolderId), (after.State, after.Epoch, after.HolderId));
        Assert.NotEqual(before.Activation, after.Activation);
        var adopted = Assert.Single(await grain.GetHistoryAsync(10, null), h => h.Event == "adopted");
        Assert.Equal((before.Activation, after.Activation), (adopted.PreviousActivation, adopted.Activation));
        Assert.True(after.FenceUntil >= before.ExpiresAt, "adoption by a new activation fences the old one's promises");
    }

    [Fact]
    public async Task ForceReleased_KeepAliveAnswersLost()
    {
        var (grain, request, reply) = await AcquireAsync(NewName());

        var forced = await grain.AsReference<ILockOperatorGrain>().ForceReleaseAsync(new ForceReleaseRequest(reply.Epoch, "stuck job", "test-operator", false));
        var keepAlive = await grain.KeepAliveAsync(new KeepAliveRequest(request.HolderId, request.Key, reply.Epoch));
        var again = await grain.AsReference<ILockOperatorGrain>().ForceReleaseAsync(new ForceReleaseRequest(reply.Epoch, "stuck job", "test-operator", false));
        var wrong = await grain.AsReference<ILockOperatorGrain>().ForceReleaseAsync(new ForceReleaseRequest(reply.Epoch + 100, "stuck job", "test-operator", false));

        Assert.Equal(ForceReleaseStatus.Released, forced.Status);
        Assert.True(forced.CurrentEpoch > reply.Epoch);
        Assert.Equal(KeepAliveStatus.Lost, keepAlive.Status);
        Assert.Equal(ForceReleaseStatus.AlreadyReleased, again.Status);
        Assert.Equal(ForceReleaseStatus.WrongEpoch, wrong.Status);
    }

    [Fact]
    public async Task RenewalBlockedInDatabase_KeepAliveP99StaysUnder100Milliseconds()
    {
        var name = NewName();
        var (grain, request, reply) = await AcquireAsync(name);
        var keepAlive = new KeepAliveRequest(request.HolderId, request.Key, reply.Epoch);
        var latencies = new List<double>();
        var sawRenewalWaiting = false;
        var sawRenewFailing = false;

        await using (var connection = await _postgres.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM cyclelock.lease WHERE service_id = $1 AND name = $2 FOR UPDATE", connection, transaction))
            {
                lockRow.Parameters.Add(new() { Value = _serviceId });
                lockRow.Parameters.Add(new() { Value = name });
                await lockRow.ExecuteNonQueryAsync();
            }

            // Over two renew periods the grain's renewals block on the row lock (and time out and retry).
            var until = DateTime.UtcNow + (Ttl / 3);
            while (DateTime.UtcNow < until)
            {
                var watch = Stopwatch.StartNew();
                var answer = await grain.KeepAliveAsync(keepAlive);
                latencies.Add(watch.Elapsed.TotalMilliseconds);
                Assert.Equal(KeepAliveStatus.Held, answer.Status);
                sawRenewFailing |= answer.RenewFailingSince is not null;
                if (!sawRenewalWaiting)
                {
                    await using var waiting = _postgres.DataSource.CreateCommand("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%cyclelock.renew%'");
                    sawRenewalWaiting = (long)(await waiting.ExecuteScalarAsync())! > 0;
                }

                await Task.Delay(10);
            }

            await transaction.RollbackAsync();
        }

        latencies.Sort();
        var p99 = latencies[(int)Math.Ceiling(latencies.Count * 0.99) - 1];
        TestContext.Current.SendDiagnosticMessage($"keep-alive while renewal blocked: n={latencies.Count} p50={latencies[latencies.Count / 2]:0.0}ms p99={p99:0.0}ms");
        Assert.True(sawRenewalWaiting, "no renewal was seen waiting for the row lock: the test did not block the renewal");
        Assert.True(sawRenewFailing, "the grain never reported failing renewals while its renewal was blocked");
        Assert.True(p99 < 100, $"keep-alive p99 {p99:0.0} ms while a renewal was blocked (expected < 100 ms)");
    }
}
