using CycleLock.Client;
using CycleLock.Tests.Sdk;

namespace CycleLock.Tests.Guard;

/// <summary>The .NET helper over a real handle: a worker's protected write passes while it holds the lock and
/// is refused, with the transaction aborted, once the lock was force-released.</summary>
[Collection(SdkCollection.Name)]
public sealed class EpochGuardHelperTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    [Fact]
    public async Task GuardAsync_PassesForTheHolder_RefusesAfterForceRelease()
    {
        var name = NewName("guard");
        var locks = Locks("guarded-worker");
        var handle = (await locks.TryAcquireAsync(name, TimeSpan.FromSeconds(10))).Handle!;

        await using (var connection = await Postgres.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await connection.GuardAsync(transaction, ServiceId, handle);
            await transaction.CommitAsync();
        }

        await locks.ForceReleaseAsync(name, handle.Epoch, "test", "operator", skipDelay: true);
        await using (var connection = await Postgres.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var refused = await Assert.ThrowsAsync<EpochGuardRejectedException>(() => connection.GuardAsync(transaction, ServiceId, handle));
            Assert.Equal("stale-epoch", refused.Reason);
            Assert.Contains(name, refused.Message, StringComparison.Ordinal);
        }

        await Assert.ThrowsAsync<ArgumentNullException>(() => new Npgsql.NpgsqlConnection().GuardAsync(null!, ServiceId, handle));
        await handle.DisposeAsync();
    }
}
