using CycleLock.Persistence;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CycleLock.Hosting;

/// <summary>While the silo starts, before any grain is activated and before membership: applies the schema
/// migrations when <see cref="LeaseStoreOptions.RunMigrations"/> is set (test and single-process hosts), then
/// checks the schema, the role's <c>synchronous_commit</c> and, with AdoNet membership, the membership query
/// table (<see cref="SchemaCheck"/>); a failed check stops the start with a message saying what to run.</summary>
internal sealed partial class MigrationLifecycleParticipant(
    NpgsqlDataSource dataSource,
    IOptions<LeaseStoreOptions> options,
    IEnumerable<CycleLockMembershipMarker> membership,
    ILogger<MigrationLifecycleParticipant> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(MigrationLifecycleParticipant), ServiceLifecycleStage.RuntimeInitialize, MigrateAsync);

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        if (options.Value.RunMigrations)
        {
            var applied = await MigrationRunner.MigrateAsync(dataSource, cancellationToken).ConfigureAwait(false);
            LogMigrated(logger, applied.Count, MigrationRunner.LatestVersion);

            // Role settings reach new sessions only: drop the pooled ones that logged in before they were written.
            dataSource.Clear();
        }

        await SchemaCheck.VerifyAsync(dataSource, membership.Any(), cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(1, LogLevel.Information, "CycleLock schema: applied {Applied} migration(s); schema version {Version}")]
    private static partial void LogMigrated(ILogger logger, int applied, int version);
}
