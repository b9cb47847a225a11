using CycleLock.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CycleLock.Hosting;

/// <summary>
/// Orleans cluster membership on the lease store's PostgreSQL (ADO.NET clustering over the project's own
/// membership schema, migration 0002). Orleans' own membership connections are not ours to wrap in the
/// transient-error matcher: they get pooler-safe settings (no reset on close, no auto-prepare, idle
/// connections retired before a pooler's idle timeout) and rely on Orleans' retries.
/// </summary>
public static class CycleLockClustering
{
    /// <summary>The connection string Orleans' membership uses: pooler-safe unless <paramref name="poolerSafe"/> is false.</summary>
    public static string ConnectionString(string connectionString, bool poolerSafe = true)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (poolerSafe)
        {
            LeaseStoreDataSource.MakePoolerSafe(builder, TimeSpan.FromSeconds(5));
        }

        return builder.ConnectionString;
    }

    /// <summary>Uses ADO.NET clustering on PostgreSQL for a silo; the silo checks at start that the membership
    /// queries resolve to CycleLock's own table.</summary>
    public static ISiloBuilder UseCycleLockClustering(this ISiloBuilder builder, string connectionString, bool poolerSafe = true)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<CycleLockMembershipMarker>();
        return builder.UseAdoNetClustering(options =>
        {
            options.Invariant = "Npgsql";
            options.ConnectionString = ConnectionString(connectionString, poolerSafe);
        });
    }

    /// <summary>Uses ADO.NET clustering (the gateway list) on PostgreSQL for a client. The role it logs in as
    /// needs the migrate step's search_path in this database (<c>migrate --runtime-role</c>).</summary>
    public static IClientBuilder UseCycleLockClustering(this IClientBuilder builder, string connectionString, bool poolerSafe = true)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseAdoNetClustering(options =>
        {
            options.Invariant = "Npgsql";
            options.ConnectionString = ConnectionString(connectionString, poolerSafe);
        });
    }
}
