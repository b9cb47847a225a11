namespace CycleLock.Persistence;

/// <summary>
/// Renewals and adoptions of many leases in one statement each (DESIGN §11). Names in one call must be
/// unique. Every input gets exactly one result, in input order, meaning what the single-row operation
/// would have answered for it (renewed / adopted, moved, ended, lost).
/// </summary>
public interface IBatchLeaseStore
{
    /// <summary>Renews every input in one statement; each attempt is bounded by <paramref name="attemptTimeout"/>
    /// (the smallest attempt timeout of the leases in it, DESIGN §6).</summary>
    Task<IReadOnlyList<StoreResult>> RenewManyAsync(IReadOnlyList<RenewInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken);

    /// <summary>Adopts every input in one statement; each attempt is bounded by <paramref name="attemptTimeout"/>.</summary>
    Task<IReadOnlyList<StoreResult>> AdoptManyAsync(IReadOnlyList<AdoptInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken);

    /// <summary>Applies acquires, releases and abandons in one statement and one commit (issue 16), each answered what
    /// the single-row operation answers, or <see cref="StoreOutcome.Skipped"/> when its row was locked by another
    /// transaction (the caller then sends it down the single-row path).</summary>
    Task<IReadOnlyList<StoreResult>> ChangeManyAsync(IReadOnlyList<ChangeInput> inputs, TimeSpan attemptTimeout, CancellationToken cancellationToken);
}
