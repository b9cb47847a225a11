using CycleLock.Persistence;
using CycleLock.Testing;
using Npgsql;

[assembly: AssemblyFixture(typeof(CycleLock.Tests.Infrastructure.PostgresFixture))]

namespace CycleLock.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL for the test run. Uses <c>CYCLELOCK_TEST_CONNECTION</c> when set; otherwise starts a
/// throwaway <see cref="PostgresCluster"/> (durability traded for speed: <c>fsync</c> and full page writes
/// off) and removes it afterwards. The schema is migrated once; tests isolate themselves by ServiceId
/// (every row is namespaced by it).
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private readonly bool _ownCluster;
    private PostgresCluster? _cluster;

    /// <summary>The shared fixture: uses <c>CYCLELOCK_TEST_CONNECTION</c> when set.</summary>
    public PostgresFixture()
        : this(ownCluster: false)
    {
    }

    /// <summary>With <paramref name="ownCluster"/>, always starts a cluster of its own (fault tests restart it).</summary>
    internal PostgresFixture(bool ownCluster) => _ownCluster = ownCluster;

    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>The fixture started this cluster itself (and so controls its configuration).</summary>
    public bool OwnsCluster => _cluster is not null;

    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public int Port => new NpgsqlConnectionStringBuilder(ConnectionString).Port;

    private PostgresCluster Cluster => _cluster ?? throw new InvalidOperationException("This fixture uses an external PostgreSQL.");

    public async ValueTask InitializeAsync()
    {
        var given = _ownCluster ? null : Environment.GetEnvironmentVariable("CYCLELOCK_TEST_CONNECTION");
        if (!string.IsNullOrWhiteSpace(given))
        {
            ConnectionString = given;
        }
        else
        {
            _cluster = await PostgresCluster.StartAsync(settings: ["fsync=off", "full_page_writes=off"]);
            ConnectionString = _cluster.ConnectionString + ";Maximum Pool Size=100;Timeout=15;Command Timeout=30";
        }

        DataSource = NpgsqlDataSource.Create(ConnectionString);
        await MigrationRunner.MigrateAsync(DataSource);
    }

    public async ValueTask DisposeAsync()
    {
        if (DataSource is not null)
        {
            await DataSource.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    /// <summary>A data source with its own pool (for tests that hold connections open).</summary>
    public NpgsqlDataSource CreateDataSource(Action<NpgsqlConnectionStringBuilder>? configure = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        configure?.Invoke(builder);
        return NpgsqlDataSource.Create(builder.ConnectionString);
    }

    /// <summary>
    /// Creates a superuser login <paramref name="role"/> with <paramref name="password"/> and returns a
    /// connection string for it. On the fixture's own cluster (otherwise all <c>trust</c>) that role alone
    /// must authenticate with its password, so the password is really used and a wrong one is refused.
    /// Both are letters and digits only: they are written into SQL and pg_hba.conf as they are.
    /// </summary>
    public async Task<string> CreatePasswordLoginAsync(string role, string password)
    {
        if (role.Length == 0 || !char.IsAsciiLetterLower(role[0]) || !role.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)) || !password.All(char.IsAsciiLetterOrDigit))
        {
            throw new ArgumentException($"Role '{role}' must be lower-case letters and digits starting with a letter, the password letters and digits.", nameof(role));
        }

        await using (var create = DataSource.CreateCommand($"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'"))
        {
            await create.ExecuteNonQueryAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.RequirePasswordAsync(role);
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString) { Username = role, Password = password }.ConnectionString;
    }

    /// <summary>Drops a role made by <see cref="CreatePasswordLoginAsync"/>, best effort (an external server keeps no litter).</summary>
    public async Task DropLoginAsync(string role)
    {
        try
        {
            await using var drop = DataSource.CreateCommand($"DROP ROLE IF EXISTS {role}");
            await drop.ExecuteNonQueryAsync();
        }
        catch (PostgresException)
        {
            // Still connected or owning objects: left for the throwaway cluster's removal.
        }
    }

    /// <summary>Stops the server with <c>pg_ctl stop -m fast|immediate</c>, stays down for <paramref name="downtime"/>,
    /// and starts it again on the same port with the same options; returns how long it was unavailable.</summary>
    public Task<TimeSpan> RestartAsync(string mode, TimeSpan downtime) => Cluster.RestartAsync(mode, downtime);
}
