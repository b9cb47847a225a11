using CycleLock.Persistence;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace CycleLock.Tests.Store;

/// <summary>The in-memory fake passes the same conformance suite as PostgreSQL.</summary>
public sealed class InMemoryLeaseStoreTests : LeaseStoreConformance
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));

    protected override ILeaseStore CreateStore() => new InMemoryLeaseStore(_time);

    protected override Task AdvanceAsync(TimeSpan by)
    {
        _time.Advance(by);
        return Task.CompletedTask;
    }
}
