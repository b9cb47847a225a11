using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CycleLock.Client;

/// <summary>
/// Registered by <c>AddCycleLockClient</c> after the Orleans client (so it starts once the client is
/// connected): reads the deployment's TTL limits into the <see cref="CycleLockClient"/> and stops the start
/// with an <see cref="OptionsValidationException"/> when <see cref="CycleLockClientOptions.DefaultTtl"/> is
/// below the floor, naming the floor, the settings that set it and how to lower it. When the limits cannot
/// be read the start goes on (a warning is logged) and the first acquire reads them.
/// </summary>
internal sealed class CycleLockClientStartup(CycleLockClient client, ILogger<CycleLockClientStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        LockLimits limits;
        try
        {
            limits = await client.GetLimitsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.LimitsUnavailableAtStart(logger, e);
            return;
        }

        if (CycleLockClientOptionsValidator.CheckAgainst(client.Options, limits) is { } failure)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(CycleLockClientOptions), [failure]);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
