using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace CycleLock.Tests.Infrastructure;

/// <summary>An <see cref="ILogger"/> that keeps every entry (level, event id, rendered message, exception,
/// structured fields) for assertions; also usable as an <see cref="ILoggerProvider"/> for a host.</summary>
public sealed class CapturingLogger : ILogger, ILoggerProvider
{
    public ConcurrentQueue<Entry> Entries { get; } = new();

    public IReadOnlyList<Entry> With(int eventId) => [.. Entries.Where(e => e.EventId.Id == eventId)];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var fields = state is IEnumerable<KeyValuePair<string, object?>> pairs
            ? pairs.ToDictionary(p => p.Key, p => p.Value)
            : [];
        Entries.Enqueue(new Entry(logLevel, eventId, formatter(state, exception), exception, fields));
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void Dispose()
    {
    }

    public sealed record Entry(LogLevel Level, EventId EventId, string Message, Exception? Exception, IReadOnlyDictionary<string, object?> Fields);
}
