using Npgsql;

namespace CycleLock.Persistence;

/// <summary>
/// What a silo checks at start, instead of migrating: the schema is at the version this build needs,
/// new sessions of its role write with <c>synchronous_commit = on</c>, and (with AdoNet membership) the
/// unqualified <c>OrleansQuery</c> Orleans reads resolves to CycleLock's own table. Each failure is a
/// <see cref="LeaseStoreConfigurationException"/> that says what to run.
/// </summary>
public static class SchemaCheck
{
    /// <summary>Checks the database behind <paramref name="dataSource"/>; <paramref name="membership"/> adds the
    /// membership query table check.</summary>
    public static async Task VerifyAsync(NpgsqlDataSource dataSource, bool membership, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        try
        {
            await CheckAsync(dataSource, membership, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == "42501")
        {
            throw new LeaseStoreConfigurationException($"The role this silo logs in as may not use CycleLock's schema ({e.MessageText}): {Fix}.", e);
        }
    }

    private const string Fix = "run the migrate step once per release (`CycleLock.Silo migrate`, with --runtime-role for each role silos log in as)";

    private static async Task CheckAsync(NpgsqlDataSource dataSource, bool membership, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT to_regclass('cyclelock.schema_version') IS NOT NULL,
                   current_setting('synchronous_commit'),
                   COALESCE((SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE c.oid = to_regclass('orleansquery')), ''),
                   current_user::text
            """);
        bool migrated;
        string synchronousCommit, queries, role;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            (migrated, synchronousCommit, queries, role) = (reader.GetBoolean(0), reader.GetString(1), reader.GetString(2), reader.GetString(3));
        }

        var version = 0;
        if (migrated)
        {
            await using var versions = dataSource.CreateCommand("SELECT COALESCE(max(version), 0) FROM cyclelock.schema_version");
            version = (int)(await versions.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        if (version < MigrationRunner.LatestVersion)
        {
            throw new LeaseStoreConfigurationException($"CycleLock schema is at version {version}; this silo needs {MigrationRunner.LatestVersion}: {Fix}.");
        }

        if (synchronousCommit is "off" or "local")
        {
            throw new LeaseStoreConfigurationException($"Sessions of role '{role}' run with synchronous_commit = {synchronousCommit} (rule: on, remote_write or remote_apply, or an acknowledged grant can be lost): {Fix}.");
        }

        if (membership && queries != "cyclelock.orleansquery")
        {
            throw new LeaseStoreConfigurationException(
                $"Orleans membership queries resolve to '{(queries.Length == 0 ? "nothing" : queries)}' for role '{role}' (rule: cyclelock.orleansquery, through search_path {MigrationRunner.RuntimeSearchPath}): {Fix}.");
        }
    }
}
