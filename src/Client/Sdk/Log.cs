using Microsoft.Extensions.Logging;

namespace CycleLock.Client;

/// <summary>Source-generated log messages of the worker SDK. Never a lease key or a connection string.</summary>
internal static partial class Log
{
    [LoggerMessage(101, LogLevel.Warning, "Lock event {EventId} ({Kind} of lock {LockName}, epoch {Epoch}): the handler failed (attempt {Attempt}); retrying in {RetryIn}; the cursor stays at {Cursor} until it succeeds")]
    public static partial void EventHandlerFailed(ILogger logger, long eventId, LockEventKind kind, string lockName, long epoch, int attempt, TimeSpan retryIn, long cursor, Exception exception);

    [LoggerMessage(102, LogLevel.Information, "Lock event {EventId} ({Kind} of lock {LockName}) handled after {Attempts} attempts")]
    public static partial void EventHandlerRecovered(ILogger logger, long eventId, LockEventKind kind, string lockName, int attempts);

    [LoggerMessage(103, LogLevel.Warning, "Lock event subscription renewal failed; retrying from cursor {Cursor} in {RetryIn}")]
    public static partial void ResubscribeFailed(ILogger logger, long cursor, TimeSpan retryIn, Exception exception);

    [LoggerMessage(104, LogLevel.Information, "Cluster TTL limits: floor {Floor} (set by {Cause}), at most {MaxTtl}")]
    public static partial void LimitsRead(ILogger logger, TimeSpan floor, TtlFloorCause cause, TimeSpan maxTtl);

    [LoggerMessage(105, LogLevel.Warning, "The cluster's TTL limits could not be read; acquires go ahead (the grain enforces the floor) and the read is tried again in {RetryIn} at the earliest")]
    public static partial void LimitsUnavailable(ILogger logger, TimeSpan retryIn, Exception exception);

    [LoggerMessage(106, LogLevel.Warning, "The cluster's TTL limits could not be read at start; CycleLock:Client:DefaultTtl was not checked against the floor, and the first acquire reads them")]
    public static partial void LimitsUnavailableAtStart(ILogger logger, Exception exception);
}
