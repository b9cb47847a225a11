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
}
