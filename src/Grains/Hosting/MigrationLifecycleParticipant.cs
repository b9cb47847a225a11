using CycleLock.Persistence;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CycleLock.Hosting;

/// <summary>Applies the schema migrations while the silo starts, before any grain is activated.</summary>
internal sealed partial class MigrationLifecycleParticipant(
    NpgsqlDataSource dataSource,
    IOptions<LeaseStoreOptions> options,
    ILogger<MigrationLifecycleParticipant> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(MigrationLifecycleParticipant), ServiceLifecycleStage.RuntimeInitialize, MigrateAsync);

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.RunMigrations)
        {
            return;
        }

        var applied = await MigrationRunner.MigrateAsync(dataSource, cancellationToken).ConfigureAwait(false);
        LogMigrated(logger, applied.Count, MigrationRunner.Scripts[^1].Version);
    }

    [LoggerMessage(1, LogLevel.Information, "CycleLock schema: applied {Applied} migration(s); schema version {Version}")]
    private static partial void LogMigrated(ILogger logger, int applied, int version);
}
