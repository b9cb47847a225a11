using Microsoft.Extensions.Logging;

namespace CycleLock.Client;

/// <summary>Source-generated log messages of leader elections.</summary>
internal static partial class LeaderLog
{
    [LoggerMessage(201, LogLevel.Information, "Leader of {Election}: term {Term} begins (this process leads)")]
    public static partial void Elected(ILogger logger, string election, long term);

    [LoggerMessage(202, LogLevel.Information, "Leader of {Election}: term {Term} ends ({Why})")]
    public static partial void SteppedDown(ILogger logger, string election, long term, string why);

    [LoggerMessage(203, LogLevel.Warning, "Leader of {Election}: campaigning failed; trying again in {RetryIn} (repeats are logged at Debug)")]
    public static partial void CampaignFailed(ILogger logger, string election, TimeSpan retryIn, Exception exception);

    [LoggerMessage(204, LogLevel.Debug, "Leader of {Election}: campaigning failed again ({Failures} in a row)")]
    public static partial void CampaignFailedAgain(ILogger logger, string election, int failures, Exception exception);

    [LoggerMessage(205, LogLevel.Error, "Leader of {Election}: the lock is dead (it stalled too often); no one can lead until an operator resets it (cyclelock reset); checking again in {RetryIn}")]
    public static partial void Dead(ILogger logger, string election, TimeSpan retryIn);

    [LoggerMessage(206, LogLevel.Error, "Leader of {Election}: the leader callback of term {Term} failed; stepping down")]
    public static partial void CallbackFailed(ILogger logger, string election, long term, Exception exception);

    [LoggerMessage(208, LogLevel.Warning, "Leader of {Election}: the release of term {Term} failed; the lease lapses on its own")]
    public static partial void ReleaseFailed(ILogger logger, string election, long term, Exception exception);

    [LoggerMessage(207, LogLevel.Warning, "Leader of {Election}: a LeadershipChanged handler failed")]
    public static partial void HandlerFailed(ILogger logger, string election, Exception exception);
}
