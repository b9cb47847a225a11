using CycleLock.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CycleLock.Hosting;

/// <summary>
/// Prunes history older than <see cref="LeaseStoreOptions.HistoryRetention"/> and spent holder ids older
/// than <see cref="LeaseStoreOptions.SpentHolderRetention"/>, in batches, every
/// <see cref="LeaseStoreOptions.PruneInterval"/>. Failures are logged and retried next interval.
/// </summary>
internal sealed partial class LeasePruner(ILeaseStore store, IOptions<LeaseStoreOptions> options, TimeProvider time, ILogger<LeasePruner> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var timer = new PeriodicTimer(settings.PruneInterval, time);
        do
        {
            try
            {
                var total = 0;
                int deleted;
                do
                {
                    deleted = await store.PruneAsync(settings.HistoryRetention, settings.SpentHolderRetention, settings.PruneBatchSize, stoppingToken).ConfigureAwait(false);
                    total += deleted;
                }
                while (deleted >= settings.PruneBatchSize && !stoppingToken.IsCancellationRequested);

                if (total > 0)
                {
                    LogPruned(logger, total);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogPruneFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(1, LogLevel.Information, "Pruned {Rows} history and spent-holder rows past retention")]
    private static partial void LogPruned(ILogger logger, int rows);

    [LoggerMessage(2, LogLevel.Warning, "Pruning history failed; retrying next interval")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}
