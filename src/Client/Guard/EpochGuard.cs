using Npgsql;

namespace CycleLock.Client;

/// <summary>
/// The epoch guard (DESIGN §8): call it inside the worker's own transaction just before a protected write.
/// It passes only while the handle's epoch is current and its lease key (sent as its SHA-256, which only the
/// holder can compute: the key never leaves the SDK) is the lease's, the lock held and the lease unexpired by
/// the database's clock; it then holds the lease row <c>FOR KEY SHARE</c> until the transaction ends, so no
/// grant or force-release can commit before the protected write does (renewals and releases never wait).
/// After a process pause this — not <see cref="LockHandle.EnsureHeld"/> — is what protects the write.
/// </summary>
public static class EpochGuard
{
    private const string Sql = "SELECT cyclelock.guard($1, $2, $3, $4)";
    private const string Rejected = "CL001";

    /// <summary>Runs the guard for <paramref name="handle"/> on <paramref name="connection"/> inside
    /// <paramref name="transaction"/> (required: outside a transaction the row lock would end at once).
    /// <paramref name="serviceId"/> is the deployment's Orleans ServiceId. Throws
    /// <see cref="EpochGuardRejectedException"/> when the write must not happen (the transaction is then
    /// aborted); bad input throws <see cref="ArgumentException"/>.</summary>
    public static async Task GuardAsync(this NpgsqlConnection connection, NpgsqlTransaction transaction, string serviceId, LockHandle handle, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(handle);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        if (!ReferenceEquals(transaction.Connection, connection))
        {
            throw new ArgumentException("The transaction belongs to another connection (rule: guard and protected write share one transaction).", nameof(transaction));
        }

        await using var command = new NpgsqlCommand(Sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = handle.Name });
        command.Parameters.Add(new NpgsqlParameter { Value = handle.Epoch });
        command.Parameters.Add(new NpgsqlParameter { Value = handle.GuardProof() });
        try
        {
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == Rejected)
        {
            throw new EpochGuardRejectedException(e.Hint ?? "rejected", e.MessageText, e);
        }
    }
}
