namespace CycleLock.Persistence;

/// <summary>
/// Renewals and adoptions of many leases in one statement each (DESIGN §11). Names in one call must be
/// unique. Every input gets exactly one result, in input order, meaning what the single-row operation
/// would have answered for it (renewed / adopted, moved, ended, lost).
/// </summary>
public interface IBatchLeaseStore
{
    /// <summary>Renews every input in one statement.</summary>
    Task<IReadOnlyList<StoreResult>> RenewManyAsync(IReadOnlyList<RenewInput> inputs, CancellationToken cancellationToken);

    /// <summary>Adopts every input in one statement.</summary>
    Task<IReadOnlyList<StoreResult>> AdoptManyAsync(IReadOnlyList<AdoptInput> inputs, CancellationToken cancellationToken);
}
