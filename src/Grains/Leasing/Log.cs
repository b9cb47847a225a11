using Microsoft.Extensions.Logging;

namespace CycleLock.Leasing;

/// <summary>Source-generated log messages of the lease core. Never a key or a connection string.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Lock {Lock} granted, epoch {Epoch}, holder {Holder} (re-acquire: {Reacquired})")]
    public static partial void Granted(ILogger logger, string @lock, long epoch, string holder, bool reacquired);

    [LoggerMessage(2, LogLevel.Debug, "Lock {Lock} epoch {Epoch} renewed, {Remaining} left")]
    public static partial void Renewed(ILogger logger, string @lock, long epoch, TimeSpan remaining);

    [LoggerMessage(3, LogLevel.Warning, "Lock {Lock} epoch {Epoch}: {Phase} call failed (failure {Failures}); retrying on a later turn")]
    public static partial void RenewFailed(ILogger logger, string @lock, long epoch, LeasePhase phase, int failures, Exception exception);

    [LoggerMessage(4, LogLevel.Warning, "Lock {Lock} epoch {Epoch} lost: {Reason}")]
    public static partial void Lost(ILogger logger, string @lock, long epoch, string reason);

    [LoggerMessage(5, LogLevel.Information, "Lock {Lock} epoch {Epoch} is served by activation {Other}: this activation stops serving it")]
    public static partial void Moved(ILogger logger, string @lock, long epoch, string? other);

    [LoggerMessage(6, LogLevel.Information, "Lock {Lock} epoch {Epoch} adopted from activation {Previous}")]
    public static partial void Adopted(ILogger logger, string @lock, long epoch, string previous);

    [LoggerMessage(7, LogLevel.Warning, "Lock {Lock} epoch {Epoch} stalled: holder silent for {Silent}")]
    public static partial void Stalled(ILogger logger, string @lock, long epoch, TimeSpan silent);

    [LoggerMessage(8, LogLevel.Information, "Lock {Lock} epoch {Epoch} released: {Reason}")]
    public static partial void Released(ILogger logger, string @lock, long epoch, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Lock {Lock} epoch {Epoch} force-released by {By}")]
    public static partial void ForceReleased(ILogger logger, string @lock, long epoch, string by);

    [LoggerMessage(10, LogLevel.Warning, "Lock {Lock}: database clock moved {Drift} against the monotonic clock between renewals (db_clock_jump); database hosts need slew-only time sync")]
    public static partial void ClockJump(ILogger logger, string @lock, TimeSpan drift);

    [LoggerMessage(11, LogLevel.Debug, "Lock {Lock}: offer to waiter {Waiter} could not be sent")]
    public static partial void NotifyFailed(ILogger logger, string @lock, Guid waiter, Exception exception);

    [LoggerMessage(13, LogLevel.Debug, "Lock {Lock} epoch {Epoch}: {Phase} call failed again (failure {Failures}, {ExceptionType}); retrying on a later turn")]
    public static partial void RenewFailedAgain(ILogger logger, string @lock, long epoch, LeasePhase phase, int failures, string exceptionType);

    [LoggerMessage(12, LogLevel.Warning, "Lock event feed: reading history failed; retrying on the next poll")]
    public static partial void EventsFailed(ILogger logger, Exception exception);

    // Debug: a caller at its bound retries; the refusals are counted (cyclelock.acquires, outcome limit).
    [LoggerMessage(14, LogLevel.Debug, "Lock {Lock}: acquire answered busy at a bound: {Limit}")]
    public static partial void AcquireLimited(ILogger logger, string @lock, string limit);
}
