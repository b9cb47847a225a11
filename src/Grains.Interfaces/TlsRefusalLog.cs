using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CycleLock;

/// <summary>Logs why a TLS peer was refused (its subject and the reason, e.g. <c>expired at …</c>): once per
/// subject and reason every five minutes at Warning, the repeats at Debug, so a client retrying with a bad
/// certificate does not flood the log. The logger comes from the first connection's services.</summary>
public sealed partial class TlsRefusalLog
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<(string Subject, string Why), long> _lastWarned = new();
    private ILogger? _logger;

    /// <summary>Takes the logger from <paramref name="services"/> (a connection builder's application services).</summary>
    public void Attach(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _logger ??= services.GetService<ILoggerFactory>()?.CreateLogger("CycleLock.Tls");
    }

    /// <summary>Records a refusal.</summary>
    public void Refused(string subject, string why)
    {
        if (_logger is not { } logger)
        {
            return;
        }

        var now = Environment.TickCount64;
        var last = _lastWarned.GetOrAdd((subject, why), long.MinValue);
        if (last == long.MinValue || now - last >= (long)Quiet.TotalMilliseconds)
        {
            _lastWarned[(subject, why)] = now;
            LogRefused(logger, subject, why);
        }
        else
        {
            LogRefusedAgain(logger, subject, why);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "TLS peer refused: certificate {Subject} is {Why} (rule: a certificate issued by the cluster's CA and valid now); repeats are logged at Debug for 5 minutes")]
    private static partial void LogRefused(ILogger logger, string subject, string why);

    [LoggerMessage(Level = LogLevel.Debug, Message = "TLS peer refused again: certificate {Subject} is {Why}")]
    private static partial void LogRefusedAgain(ILogger logger, string subject, string why);
}
