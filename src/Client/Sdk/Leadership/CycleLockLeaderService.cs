using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CycleLock.Client;

/// <summary>
/// Campaigns for one election: a fair waiting acquire (the lock's queue, no polling), the callback while the
/// lease is held with the lease's lost signal (and host shutdown) as its cancellation, then a release and a new
/// campaign. On host shutdown the callback is cancelled and the lease released, so a follower leads at once.
/// </summary>
internal sealed class CycleLockLeaderService(
    CycleLockLeader leader,
    CycleLockClient client,
    Func<LeaderLease, CancellationToken, Task> lead,
    CycleLockLeaderOptions options,
    ILogger logger) : BackgroundService
{
    /// <summary>One waiting acquire (the longest the SDK takes, so a follower keeps its place in the queue for a day).</summary>
    private static readonly TimeSpan CampaignWait = RequestRules.MaxTtl;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            AcquireResult campaign;
            try
            {
                campaign = await client.AcquireAsync(leader.Name, options.Ttl ?? client.Options.DefaultTtl, CampaignWait, stoppingToken).ConfigureAwait(false);
                failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not (ArgumentException or CycleLockAccessDeniedException))
            {
                // The cluster is away (or the client not connected yet): campaign again shortly. A bad TTL or a
                // credential that may not acquire the name is a configuration error and stops the host.
                if (failures++ == 0)
                {
                    LeaderLog.CampaignFailed(logger, LockName.Quote(leader.Name), options.RetryDelay, e);
                }
                else
                {
                    LeaderLog.CampaignFailedAgain(logger, LockName.Quote(leader.Name), failures, e);
                }

                await PauseAsync(stoppingToken).ConfigureAwait(false);
                continue;
            }

            switch (campaign.Outcome)
            {
                case AcquireOutcome.Acquired:
                    if (await LeadAsync(campaign.Handle!, stoppingToken).ConfigureAwait(false))
                    {
                        await PauseAsync(stoppingToken).ConfigureAwait(false);
                    }

                    break;
                case AcquireOutcome.Dead:
                    LeaderLog.Dead(logger, LockName.Quote(leader.Name), options.RetryDelay * 10);
                    await PauseAsync(stoppingToken, 10).ConfigureAwait(false);
                    break;
                case AcquireOutcome.QueueFull:
                    await PauseAsync(stoppingToken).ConfigureAwait(false);
                    break;
                default:
                    // Busy at the end of one waiting acquire: keep campaigning.
                    break;
            }
        }
    }

    /// <summary>Runs the callback for one term; true when the callback returned on its own (the leader stepped
    /// down by choice: pause before campaigning again, so another process may take the term).</summary>
    private async Task<bool> LeadAsync(LockHandle lease, CancellationToken stoppingToken)
    {
        var name = LockName.Quote(leader.Name);
        var steppedDown = false;
        var why = "the host is stopping";
        var ended = 0;
        void End()
        {
            // Once per term: at the loss itself (so IsLeader is false while a slow callback winds down), or after
            // the callback returned.
            if (Interlocked.Exchange(ref ended, 1) == 0)
            {
                leader.Change(isLeader: false, lease.Epoch);
            }
        }

        try
        {
            if (stoppingToken.IsCancellationRequested)
            {
                // Granted as the host stops: release at once, without a term.
                return false;
            }

            using var term = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lease.LostToken);
            LeaderLog.Elected(logger, name, lease.Epoch);
            leader.Change(isLeader: true, lease.Epoch);
            using (lease.LostToken.Register(End))
            {
                try
                {
                    await lead(new LeaderLease(leader.Name, lease.Epoch, lease), term.Token).ConfigureAwait(false);
                    steppedDown = !term.IsCancellationRequested;
                    why = steppedDown ? "the callback returned" : Why(lease, stoppingToken);
                }
                catch (OperationCanceledException) when (term.IsCancellationRequested)
                {
                    why = Why(lease, stoppingToken);
                }
#pragma warning disable CA1031 // The callback is the application's; its failure ends the term, not the election.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    LeaderLog.CallbackFailed(logger, name, lease.Epoch, e);
                    steppedDown = true;
                    why = "the callback failed";
                }
            }

            End();
            LeaderLog.SteppedDown(logger, name, lease.Epoch, why);
            return steppedDown;
        }
        finally
        {
            // The callback has returned before the lease is released: this process never runs two terms at once.
            try
            {
                await lease.DisposeAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A release refused (a credential revoked meanwhile) ends the term all the same; the lease lapses.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LeaderLog.ReleaseFailed(logger, name, lease.Epoch, e);
            }
        }
    }

    private static string Why(LockHandle lease, CancellationToken stoppingToken) =>
        stoppingToken.IsCancellationRequested && !lease.LostToken.IsCancellationRequested ? "the host is stopping" : "the lease was lost: " + (lease.EndReason ?? "lost");

    private async Task PauseAsync(CancellationToken stoppingToken, int times = 1)
    {
        try
        {
            await Task.Delay(options.RetryDelay * times, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the loop ends.
        }
    }
}
