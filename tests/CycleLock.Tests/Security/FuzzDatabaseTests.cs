using CsCheck;
using CycleLock.Tests.Grains;
using CycleLock.Tests.Infrastructure;
using Npgsql;

namespace CycleLock.Tests.Security;

/// <summary>
/// The same generated inputs as <see cref="FuzzTests"/>, sent raw to a real grain on a real PostgreSQL: every
/// call answers or fails with an <see cref="ArgumentException"/> naming the rule, and a refused call leaves no
/// lease row and no history for its name.
/// </summary>
[Collection(FuzzDatabaseCollection.Name)]
public sealed class FuzzDatabaseTests(FuzzClusterFixture fixture)
{
    [Fact]
    public async Task RawRequests_AnswerOrAreRefusedNamingTheRule_AndARefusalChangesNothing()
    {
        var ttls = Gen.Frequency((3, (IGen<TimeSpan>)Gen.Int[2_000, 40_000].Select(ms => TimeSpan.FromMilliseconds(ms))), (2, FuzzTests.Ttls));
        var names = Gen.Frequency((2, (IGen<string>)FuzzTests.Strings), (1, Gen.Char['a', 'z'].Array[1, 12].Select(a => "fuzz/" + new string(a))));
        var requests = Gen.Select(names, FuzzTests.Guids, FuzzTests.Strings, FuzzTests.Keys, ttls);
        var answered = 0;
        var refused = 0;

        await requests.SampleAsync(async (name, holder, label, key, ttl) =>
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                return true; // the Orleans client itself refuses a blank grain key; nothing is sent
            }

            var grain = fixture.Cluster.Client.GetGrain<ICycleLockGrain>(name);
            var before = await CountAsync(name);
            try
            {
                var reply = await grain.TryAcquireAsync(new AcquireRequest(holder, label, key, ttl));
                Interlocked.Increment(ref answered);
                if (reply.Status == AcquireStatus.Granted)
                {
                    await grain.ReleaseAsync(new ReleaseRequest(holder, key, reply.Epoch, ReleaseReason.Completed));
                }

                return true;
            }
            catch (ArgumentException e)
            {
                Interlocked.Increment(ref refused);
                return FuzzTests.Refusal(e) && await CountAsync(name) == before;
            }
        }, iter: 150, threads: 1, print: FuzzTests.Show);

        TestContext.Current.SendDiagnosticMessage($"fuzzed acquires: {answered} answered, {refused} refused");
        Assert.True(answered > 0 && refused > 0, $"both kinds of input were sent ({answered} answered, {refused} refused)");
    }

    // Lease rows and history rows of this name (any normalisation of it): what a refused call must not change.
    private async Task<long> CountAsync(string name)
    {
        if (LockName.LoneSurrogateAt(name) is not null)
        {
            return 0; // not storable as UTF-8: no row can carry this name
        }

        await using var command = fixture.Postgres.DataSource.CreateCommand("""
            SELECT (SELECT count(*) FROM cyclelock.lease WHERE service_id = $1 AND name = $2)
                 + (SELECT count(*) FROM cyclelock.history WHERE service_id = $1 AND name = $2)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = fixture.Cluster.ServiceId });
        command.Parameters.Add(new NpgsqlParameter { Value = name.Replace("\0", string.Empty, StringComparison.Ordinal) });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzDatabaseCollection : ICollectionFixture<FuzzClusterFixture>
{
    public const string Name = "fuzz-database";
}

public sealed class FuzzClusterFixture(PostgresFixture postgres) : IAsyncLifetime
{
    public CycleLockCluster Cluster { get; private set; } = null!;

    public PostgresFixture Postgres => postgres;

    public async ValueTask InitializeAsync() =>
        Cluster = await CycleLockCluster.StartAsync(postgres, "fuzz-" + Guid.NewGuid().ToString("N")[..8], "fuzz");

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}
