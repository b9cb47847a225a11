using Npgsql;

namespace CycleLock.Persistence;

/// <summary>Builds the lease store's one <see cref="NpgsqlDataSource"/> from <see cref="LeaseStoreOptions"/>.</summary>
public static class LeaseStoreDataSource
{
    /// <summary>The connection string the store uses: the configured one, made pooler-safe when asked, with
    /// Npgsql's cancellation timeout well below any attempt timeout.</summary>
    public static string ConnectionStringFor(LeaseStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        if (options.PoolerSafe)
        {
            MakePoolerSafe(builder, options.IdleConnectionLifetime);
        }

        if (builder.CancellationTimeout == 2000)
        {
            // A cancelled attempt waits at most this long for the server's acknowledgement (default 2 s).
            builder.CancellationTimeout = 250;
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// Behind a transaction-mode pooler: no session state to reset (a DISCARD ALL per checkout otherwise), no
    /// prepared statements (they fail under concurrency), and idle connections retired after
    /// <paramref name="idleLifetime"/> (at least 2 s), before the pooler's own idle timeout reaps them.
    /// </summary>
    public static void MakePoolerSafe(NpgsqlConnectionStringBuilder builder, TimeSpan idleLifetime)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.NoResetOnClose = true;
        builder.MaxAutoPrepare = 0;
        builder.ConnectionIdleLifetime = Math.Max(2, (int)idleLifetime.TotalSeconds);
        builder.ConnectionPruningInterval = 1;
    }

    /// <summary>Creates the data source.</summary>
    public static NpgsqlDataSource Create(LeaseStoreOptions options) => NpgsqlDataSource.Create(ConnectionStringFor(options));
}
