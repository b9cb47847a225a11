using Npgsql;

namespace CycleLock.Persistence;

/// <summary>
/// Applies the embedded, versioned schema scripts (<c>Migrations/NNNN_*.sql</c>) in order, then the
/// runtime roles' defaults in this database. Everything runs under one transaction-scoped advisory lock
/// per step, so any number of runners started at once apply each version exactly once and never race
/// on a role's settings (<c>ALTER ROLE</c> from two sessions at once fails with <c>XX000 tuple
/// concurrently updated</c>). A version already recorded is skipped; a role default already set is not
/// written again. Run by the <c>migrate</c> step (<c>CycleLock.Silo migrate</c>, a Kubernetes Job, a
/// compose service); silos only check the result at start (<see cref="SchemaCheck"/>).
/// </summary>
public static class MigrationRunner
{
    /// <summary>The <c>search_path</c> set for the runtime roles in the lease store's database: Orleans'
    /// ADO.NET provider reads its queries from the unqualified <c>OrleansQuery</c>, which must resolve to
    /// CycleLock's own <c>cyclelock.orleansquery</c>, never to another cluster's <c>public.orleansquery</c>.</summary>
    public const string RuntimeSearchPath = "cyclelock, \"$user\", public";

    private const long AdvisoryLockKey = 0x4379_636C_654C_6F63; // "CycleLoc"

    // The role defaults every runtime role needs in this database, each as (the SET clause, the stored entries of
    // pg_db_role_setting.setconfig that already satisfy it). Constants of this class only. A synchronous_commit a DBA
    // set for a synchronous standby (remote_write, remote_apply) is kept; only a missing one or off/local is replaced.
    private static readonly (string Set, string[] Satisfied)[] RoleDefaults =
    [
        ("synchronous_commit = on", ["synchronous_commit=on", "synchronous_commit=remote_write", "synchronous_commit=remote_apply"]),
        ("search_path = " + RuntimeSearchPath, ["search_path=cyclelock,"]),
    ];

    // What a runtime role named with --runtime-role is granted (the role's name goes in as %I).
    private static readonly string[] RuntimeGrants =
    [
        "GRANT USAGE ON SCHEMA cyclelock TO %I",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA cyclelock TO %I",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA cyclelock TO %I",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA cyclelock TO %I",

        // Read-only what a silo only reads: the query texts Orleans executes (a role that could rewrite them would run
        // any SQL as every silo) and the schema's version. The epoch guard is for worker roles, not silos.
        "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON cyclelock.orleansquery, cyclelock.schema_version FROM %I",
        "REVOKE EXECUTE ON FUNCTION cyclelock.guard(text, text, bigint, bytea) FROM %I",
    ];

    /// <summary>The embedded scripts, as (version, name, text), in version order.</summary>
    public static IReadOnlyList<(int Version, string Name, string Sql)> Scripts { get; } = LoadScripts();

    /// <summary>The schema version this build needs.</summary>
    public static int LatestVersion => Scripts[^1].Version;

    /// <summary>Applies every missing version and sets the defaults of the role this data source logs in
    /// as; returns the versions applied by this call.</summary>
    public static Task<IReadOnlyList<int>> MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default) =>
        MigrateAsync(dataSource, [], cancellationToken);

    /// <summary>Applies every missing version, then sets <c>synchronous_commit = on</c> and
    /// <see cref="RuntimeSearchPath"/> in this database for each of <paramref name="runtimeRoles"/> (the roles
    /// silos and AdoNet-clustered clients log in as; none means the role this data source logs in as) and grants
    /// each named role the use of CycleLock's tables and functions (no DDL). Setting another role's defaults needs
    /// superuser or <c>CREATEROLE</c>. Returns the versions applied.</summary>
    public static async Task<IReadOnlyList<int>> MigrateAsync(NpgsqlDataSource dataSource, IReadOnlyList<string> runtimeRoles, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(runtimeRoles);
        var applied = new List<int>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (version, name, sql) in Scripts)
        {
            await using var transaction = await LockedTransactionAsync(connection, cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, """
                CREATE SCHEMA IF NOT EXISTS cyclelock;
                CREATE TABLE IF NOT EXISTS cyclelock.schema_version (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, cancellationToken).ConfigureAwait(false);
            await using (var check = new NpgsqlCommand("SELECT 1 FROM cyclelock.schema_version WHERE version = $1", connection, transaction))
            {
                check.Parameters.Add(new NpgsqlParameter { Value = version });
                if (await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
                {
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }

            await ExecuteAsync(connection, transaction, sql, cancellationToken).ConfigureAwait(false);
            await using (var record = new NpgsqlCommand("INSERT INTO cyclelock.schema_version (version, name) VALUES ($1, $2)", connection, transaction))
            {
                record.Parameters.Add(new NpgsqlParameter { Value = version });
                record.Parameters.Add(new NpgsqlParameter { Value = name });
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            applied.Add(version);
        }

        await SetRoleDefaultsAsync(connection, runtimeRoles, cancellationToken).ConfigureAwait(false);
        return applied;
    }

    // Durable writes and the membership query table: the role's defaults in this database reach every new
    // session (and a pooler's server connections when they reconnect); each lease statement also reports the
    // synchronous_commit it ran with. Written under the advisory lock and only when pg_db_role_setting lacks
    // the entry, so concurrent runners neither race nor rewrite the catalog on every start.
    private static async Task SetRoleDefaultsAsync(NpgsqlConnection connection, IReadOnlyList<string> runtimeRoles, CancellationToken cancellationToken)
    {
        await using var transaction = await LockedTransactionAsync(connection, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> roles = runtimeRoles.Count > 0 ? runtimeRoles : [await CurrentUserAsync(connection, transaction, cancellationToken).ConfigureAwait(false)];
        foreach (var role in roles.Distinct(StringComparer.Ordinal))
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(role, nameof(runtimeRoles));
            var stored = await StoredDefaultsAsync(connection, transaction, role, cancellationToken).ConfigureAwait(false);
            foreach (var (set, satisfied) in RoleDefaults)
            {
                if (stored.Any(s => satisfied.Any(prefix => s.StartsWith(prefix, StringComparison.Ordinal))))
                {
                    continue;
                }

                // The role and database names are quoted by the server (format %I); the SET clause is a constant above.
                await using var build = new NpgsqlCommand("SELECT format('ALTER ROLE %I IN DATABASE %I SET %s', $1, current_database(), $2)", connection, transaction);
                build.Parameters.Add(new NpgsqlParameter { Value = role });
                build.Parameters.Add(new NpgsqlParameter { Value = set });
                var statement = (string)(await build.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                await ExecuteAsync(connection, transaction, statement, cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var role in runtimeRoles.Distinct(StringComparer.Ordinal))
        {
            // A runtime role other than the owner gets what a silo uses: the lease and membership tables and
            // functions (the functions run as the caller, so they need the tables). Nothing to create or alter.
            foreach (var grant in RuntimeGrants)
            {
                await using var build = new NpgsqlCommand("SELECT format($1, $2)", connection, transaction);
                build.Parameters.Add(new NpgsqlParameter { Value = grant });
                build.Parameters.Add(new NpgsqlParameter { Value = role });
                await ExecuteAsync(connection, transaction, (string)(await build.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!, cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The defaults stored for <paramref name="role"/> in the current database (entries of
    /// <c>pg_db_role_setting.setconfig</c>, e.g. <c>synchronous_commit=on</c>); empty when none. Throws when the role does not exist.</summary>
    internal static async Task<string[]> StoredDefaultsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string role, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT r.oid IS NOT NULL, COALESCE(s.setconfig, '{}')
            FROM (SELECT 1) one
            LEFT JOIN pg_roles r ON r.rolname = $1
            LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid
                  AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = role });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (!reader.GetBoolean(0))
        {
            throw new ArgumentException($"Runtime role '{role}' does not exist (rule: an existing PostgreSQL role that silos log in as).", nameof(role));
        }

        return reader.GetFieldValue<string[]>(1);
    }

    private static async Task<NpgsqlTransaction> LockedTransactionAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({AdvisoryLockKey})", cancellationToken).ConfigureAwait(false);
        return transaction;
    }

    private static async Task<string> CurrentUserAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT current_user::text", connection, transaction);
        return (string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static List<(int, string, string)> LoadScripts()
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var scripts = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".sql", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var fileName = resource.Split('.')[^2];
            var underscore = fileName.IndexOf('_', StringComparison.Ordinal);
            var version = int.Parse(fileName[..underscore], System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource) ?? throw new InvalidOperationException($"Missing resource {resource}.");
            using var reader = new StreamReader(stream);
            scripts.Add((version, fileName, reader.ReadToEnd()));
        }

        return scripts;
    }
}
