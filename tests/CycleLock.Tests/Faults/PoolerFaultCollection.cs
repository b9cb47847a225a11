using CycleLock.Persistence;
using CycleLock.Tests.Infrastructure;

namespace CycleLock.Tests.Faults;

/// <summary>Fault tests run one at a time, against a PostgreSQL of their own (they restart it and kill its
/// backends), each behind a real PgBouncer in transaction mode that the test starts.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PoolerFaultCollection : ICollectionFixture<FaultDatabase>
{
    public const string Name = "pooler-faults";
}

public sealed class FaultDatabase : IAsyncLifetime
{
    public PostgresFixture Postgres { get; } = new(ownCluster: true);

    public async ValueTask InitializeAsync()
    {
        await Postgres.InitializeAsync();
        await MigrationRunner.MigrateAsync(Postgres.DataSource);
    }

    public ValueTask DisposeAsync() => Postgres.DisposeAsync();
}
