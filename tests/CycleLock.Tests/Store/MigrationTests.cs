using CycleLock.Persistence;
using CycleLock.Tests.Infrastructure;
using Npgsql;

namespace CycleLock.Tests.Store;

/// <summary>The migrate step on a real PostgreSQL: many runners at once (silos or jobs started together),
/// the runtime role's defaults in pg_db_role_setting, CycleLock's membership queries kept out of
/// <c>public.orleansquery</c>, and the silo's start-up check. Each test owns a database and a non-superuser role.</summary>
public sealed class MigrationTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Migrate_FourRunnersRacedForTwentyRounds_ApplyEachVersionOnceAndSetTheRoleDefaults()
    {
        var (database, role) = await CreateDatabaseAndRoleAsync();

        // The database default is off, so only the role's own default can make a new session durable.
        await ExecuteAsync(postgres.DataSource, $"ALTER DATABASE {database} SET synchronous_commit = off");
        var runners = Enumerable.Range(0, 4).Select(_ => postgres.CreateDataSource(b => { b.Database = database; b.Username = role; })).ToArray();
        try
        {
            for (var round = 0; round < 20; round++)
            {
                // Back to an empty database with no role defaults: every round races the whole migration.
                await using (var reset = postgres.CreateDataSource(b => b.Database = database))
                {
                    await ExecuteAsync(reset, $"DROP SCHEMA IF EXISTS cyclelock CASCADE; ALTER ROLE {role} IN DATABASE {database} RESET ALL");
                }

                var applied = await Task.WhenAll(runners.Select(r => MigrationRunner.MigrateAsync(r)));

                Assert.True(
                    MigrationRunner.Scripts.Select(s => s.Version).SequenceEqual(applied.SelectMany(a => a).Order()),
                    $"round {round}: versions applied by the four runners were [{string.Join(", ", applied.SelectMany(a => a).Order())}], expected each of [{string.Join(", ", MigrationRunner.Scripts.Select(s => s.Version))}] once");
                await using var connection = await runners[0].OpenConnectionAsync();
                var stored = await MigrationRunner.StoredDefaultsAsync(connection, null, role, CancellationToken.None);
                Assert.True(stored.Contains("synchronous_commit=on"), $"round {round}: pg_db_role_setting for {role} in {database} is [{string.Join(", ", stored)}], expected synchronous_commit=on");
                Assert.True(stored.Any(s => s.StartsWith("search_path=cyclelock,", StringComparison.Ordinal)), $"round {round}: pg_db_role_setting is [{string.Join(", ", stored)}], expected search_path=cyclelock, ...");
                Assert.Equal(2, stored.Length);
            }

            // A new session of the role writes durably although the database default says off.
            await using var fresh = postgres.CreateDataSource(b => { b.Database = database; b.Username = role; b.Pooling = false; });
            await using var setting = fresh.CreateCommand("SELECT current_setting('synchronous_commit')");
            Assert.Equal("on", (string)(await setting.ExecuteScalarAsync())!);
            Assert.Empty(await MigrationRunner.MigrateAsync(runners[1]));
        }
        finally
        {
            foreach (var runner in runners)
            {
                await runner.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Migrate_DatabaseSharedWithAnotherOrleansCluster_LeavesItsQueriesAlone()
    {
        var (database, role) = await CreateDatabaseAndRoleAsync();
        await using var owner = postgres.CreateDataSource(b => b.Database = database);
        await ExecuteAsync(owner, $"""
            CREATE TABLE public.orleansquery (querykey varchar(64) PRIMARY KEY, querytext varchar(8000) NOT NULL);
            INSERT INTO public.orleansquery VALUES ('MembershipReadAllKey', 'SELECT other_cluster_tables');
            GRANT ALL ON public.orleansquery TO {role};
            """);
        await using var runtime = postgres.CreateDataSource(b => { b.Database = database; b.Username = role; b.Pooling = false; });

        await MigrationRunner.MigrateAsync(runtime);

        Assert.Equal("SELECT other_cluster_tables", await ScalarAsync<string>(owner, "SELECT querytext FROM public.orleansquery WHERE querykey = 'MembershipReadAllKey'"));
        Assert.Equal(1L, await ScalarAsync<long>(owner, "SELECT count(*) FROM public.orleansquery"));
        Assert.Equal("cyclelock", await ScalarAsync<string>(runtime, "SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = to_regclass('orleansquery')"));
        Assert.Contains("cyclelock.orleans_membership", await ScalarAsync<string>(runtime, "SELECT querytext FROM orleansquery WHERE querykey = 'MembershipReadAllKey'"), StringComparison.Ordinal);
        await SchemaCheck.VerifyAsync(runtime, membership: true);
    }

    [Fact]
    public async Task Migrate_DatabaseAnOlderVersionWroteToPublic_MovesCycleLocksQueriesOutAndKeepsOthers()
    {
        var (database, role) = await CreateDatabaseAndRoleAsync();
        await using var runtime = postgres.CreateDataSource(b => { b.Database = database; b.Username = role; });
        await MigrationRunner.MigrateAsync(runtime);

        // What a version before migration 5 left behind: its rows in public.orleansquery next to another cluster's.
        await ExecuteAsync(runtime, """
            CREATE TABLE public.orleansquery (querykey text PRIMARY KEY, querytext text NOT NULL);
            INSERT INTO public.orleansquery VALUES
                ('GatewaysQueryKey', 'SELECT address FROM cyclelock.orleans_membership'),
                ('OtherClusterKey', 'SELECT 1 FROM orleansmembershiptable');
            DELETE FROM cyclelock.schema_version WHERE version = 5;
            """);

        Assert.Equal([5], await MigrationRunner.MigrateAsync(runtime));

        Assert.Equal("OtherClusterKey", await ScalarAsync<string>(runtime, "SELECT string_agg(querykey, ',') FROM public.orleansquery"));
    }

    [Fact]
    public async Task SchemaCheck_SiloStartingBeforeTheMigrateStep_RefusesNamingWhatToRun()
    {
        var (database, role) = await CreateDatabaseAndRoleAsync();
        await using var runtime = postgres.CreateDataSource(b => { b.Database = database; b.Username = role; b.Pooling = false; });

        var missing = await Assert.ThrowsAsync<LeaseStoreConfigurationException>(() => SchemaCheck.VerifyAsync(runtime, membership: false));
        Assert.Contains("schema is at version 0", missing.Message, StringComparison.Ordinal);
        Assert.Contains("CycleLock.Silo migrate", missing.Message, StringComparison.Ordinal);

        // Migrated for another role only: this role's sessions cannot find the membership queries.
        await using (var owner = postgres.CreateDataSource(b => b.Database = database))
        {
            await MigrationRunner.MigrateAsync(owner);
        }

        var refused = await Assert.ThrowsAsync<LeaseStoreConfigurationException>(() => SchemaCheck.VerifyAsync(runtime, membership: true));
        Assert.Contains("may not use CycleLock's schema", refused.Message, StringComparison.Ordinal);

        await using (var owner = postgres.CreateDataSource(b => b.Database = database))
        {
            await MigrationRunner.MigrateAsync(owner, [role]);
        }

        await SchemaCheck.VerifyAsync(runtime, membership: true);
    }

    [Fact]
    public async Task OwnerAndRuntimeRole_TheSiloRoleUsesLeasesButCannotChangeTheSchemaTheQueriesOrTheGuard()
    {
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var (database, owner, silo) = ("lp_" + suffix, "lp_owner_" + suffix, "lp_silo_" + suffix);
        await ExecuteAsync(postgres.DataSource, $"CREATE ROLE {owner} LOGIN CREATEROLE NOSUPERUSER; CREATE ROLE {silo} LOGIN NOSUPERUSER");
        await ExecuteAsync(postgres.DataSource, $"CREATE DATABASE {database} OWNER {owner}");
        await using var asOwner = postgres.CreateDataSource(b => { b.Database = database; b.Username = owner; b.Pooling = false; });
        await using var asSilo = postgres.CreateDataSource(b => { b.Database = database; b.Username = silo; b.Pooling = false; });

        await MigrationRunner.MigrateAsync(asOwner, [silo]);

        Assert.False(await ScalarAsync<bool>(asOwner, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"), "the owner is no superuser");
        await SchemaCheck.VerifyAsync(asSilo, membership: true);
        var store = new PostgresLeaseStore(asSilo, "lp", new LeaseStoreOptions());
        Assert.Equal(StoreOutcome.Granted, (await store.AcquireAsync("lp/lock", Guid.NewGuid(), "h", LeaseKey.New(), TimeSpan.FromSeconds(30), "act", CancellationToken.None)).Outcome);
        foreach (var attempt in new[]
        {
            "UPDATE cyclelock.orleansquery SET querytext = 'SELECT 1' WHERE querykey = 'MembershipReadAllKey'",
            "CREATE OR REPLACE FUNCTION cyclelock.guard(p_service text, p_name text, p_epoch bigint, p_key_hash bytea) RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint'",
            "CREATE TABLE cyclelock.intruder (x int)",
            "DELETE FROM cyclelock.schema_version",
            "SELECT cyclelock.guard('lp', 'lp/lock', 1, '\\x00'::bytea)",
        })
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(asSilo, attempt));
            Assert.True(refused.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{attempt}: {refused.SqlState} {refused.MessageText}");
        }
    }

    private async Task<(string Database, string Role)> CreateDatabaseAndRoleAsync()
    {
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var (database, role) = ("mig_" + suffix, "mig_role_" + suffix);
        await ExecuteAsync(postgres.DataSource, $"CREATE ROLE {role} LOGIN");
        await ExecuteAsync(postgres.DataSource, $"CREATE DATABASE {database} OWNER {role}");
        return (database, role);
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
