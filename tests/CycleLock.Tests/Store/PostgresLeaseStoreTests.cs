using CycleLock.Persistence;
using CycleLock.Tests.Infrastructure;

namespace CycleLock.Tests.Store;

/// <summary>The conformance suite against a real PostgreSQL, plus what only a real database shows.</summary>
public sealed partial class PostgresLeaseStoreTests(PostgresFixture postgres) : LeaseStoreConformance
{
    protected override ILeaseStore CreateStore() => CreateStore(new LeaseStoreOptions());

    protected override Task AdvanceAsync(TimeSpan by) => Task.Delay(by);

    private PostgresLeaseStore CreateStore(LeaseStoreOptions options) =>
        new(postgres.DataSource, "test-" + Guid.NewGuid().ToString("N")[..12], options);
}
