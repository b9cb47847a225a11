using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Telemetry;
using Polly.Timeout;

namespace CycleLock.Resilience;

/// <summary>
/// The one resilience pipeline of a silo's lease store, built once: a circuit breaker over whole
/// executions (so a transient failure healed by a retry does not count, and while the store is down
/// one probe passes per break duration), retries classified by <see cref="TransientErrorMatcher"/> with
/// exponential backoff and jitter, and a per-attempt timeout of min(MaxAttemptTimeout, the caller's
/// remaining budget). A <c>TransientReconnect</c> failure clears the pool once (single-flight) before the
/// retry, so it runs on a fresh connection. Only idempotent statements are executed through it.
/// The pipeline's shape is <see cref="ConfigurePipeline"/>; a silo registers it with Polly's DI
/// (<c>AddResiliencePipeline(PipelineName, …)</c>), whose telemetry meters and logs its retries and breaker changes
/// (meter <c>Polly</c>, tagged with the operation, the matcher rule and the service).
/// </summary>
public sealed partial class DatabaseResilience
{
    /// <summary>The key of the pipeline in Polly's registry (<c>ResiliencePipelineProvider&lt;string&gt;</c>).</summary>
    public const string PipelineName = "cyclelock-db";

    private static readonly ResiliencePropertyKey<OperationInfo> Operation = new("cyclelock.operation");
    private static readonly ResiliencePropertyKey<CancellationToken> CallerToken = new("cyclelock.caller");
    private static readonly ResiliencePropertyKey<long> AttemptStarted = new("cyclelock.attempt-started");
    private static readonly ResiliencePropertyKey<string> LastTransient = new("cyclelock.last-transient");
    private static readonly ResiliencePropertyKey<TimeSpan> AttemptTimeout = new("cyclelock.attempt-timeout");
    private static readonly ResiliencePropertyKey<int> AttemptIndex = new("cyclelock.attempt-index");
    private static readonly ResiliencePropertyKey<DatabaseResilience> Executor = new("cyclelock.executor");
    private static readonly TimeSpan MinClearInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan LogWindow = TimeSpan.FromSeconds(10);

    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DatabaseResilienceOptions _options;
    private readonly KeyValuePair<string, object?> _scope;
    private readonly object _reconnectGate = new();
    private Task? _reconnect;
    private long _lastClear = long.MinValue;
    private readonly ConcurrencyLimiter _foreground;
    private readonly ConcurrencyLimiter _background;
    private readonly ConcurrentDictionary<(string Operation, string Rule), (long Since, int Suppressed)> _gaveUpLogged = new();
    private readonly CycleLockMetrics _metrics;

    /// <summary>Runs statements over <paramref name="dataSource"/> through <paramref name="pipeline"/> (from Polly's registry,
    /// shaped by <see cref="ConfigurePipeline"/>; default: one built here, with telemetry to no logger);
    /// <paramref name="scope"/> (the ServiceId) tags its metrics.</summary>
    public DatabaseResilience(NpgsqlDataSource dataSource, DatabaseResilienceOptions options, TimeProvider? time = null, ILogger<DatabaseResilience>? logger = null, string? scope = null, CycleLockMetrics? metrics = null, ResiliencePipeline? pipeline = null)
    {
        _scope = new("service", scope ?? string.Empty);
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = time ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics ?? CycleLockMetrics.Unhosted;
        _foreground = Lane(_options.MaxConcurrentStatements);
        _background = Lane(_options.MaxConcurrentBackgroundStatements);
        Pipeline = pipeline ?? BuildUnregistered(_options, _time);
    }

    private ConcurrencyLimiter Lane(int permits) => new(new ConcurrencyLimiterOptions
    {
        PermitLimit = permits,
        QueueLimit = _options.MaxQueuedStatements,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    /// <summary>The pipeline (exposed for its shape test).</summary>
    public ResiliencePipeline Pipeline { get; }

    /// <summary>Runs one idempotent statement. <paramref name="cancellationToken"/> is the caller's budget;
    /// <paramref name="attemptTimeout"/> overrides the per-attempt timeout (a statement that may wait for a lock
    /// longer than the default attempt timeout).</summary>
    public async Task<T> ExecuteAsync<T>(string operation, string? lockName, long? epoch, Func<CancellationToken, Task<T>> statement, CancellationToken cancellationToken, TimeSpan? attemptTimeout = null, DatabaseLane lane = DatabaseLane.Foreground)
    {
        // A caller that gave up costs nothing: no permit, no connection, no statement.
        cancellationToken.ThrowIfCancellationRequested();
        var context = ResilienceContextPool.Shared.Get(operation, cancellationToken);
        var info = new OperationInfo(operation, lockName, epoch);
        context.Properties.Set(Operation, info);
        context.Properties.Set(CallerToken, cancellationToken);
        context.Properties.Set(AttemptTimeout, attemptTimeout ?? _options.MaxAttemptTimeout);
        context.Properties.Set(Executor, this);
        try
        {
            return await Pipeline.ExecuteAsync(
                static async (ctx, state) =>
                {
                    ctx.Properties.TryGetValue(Operation, out var op);
                    ctx.Properties.Set(AttemptStarted, state.Time.GetTimestamp());
                    var index = ctx.Properties.GetValue(AttemptIndex, 0);
                    ctx.Properties.Set(AttemptIndex, index + 1);
                    try
                    {
                        // Bounded database work per silo: a permit of the lane for the attempt's statement only (not
                        // across backoffs); a permit not granted within the queue wait refuses the statement unsent.
                        using var permit = await state.Self.PermitAsync(state.Lane, op.Name, index, ctx.CancellationToken, ctx.Properties.GetValue(CallerToken, default)).ConfigureAwait(false);
                        var result = await state.Statement(ctx.CancellationToken).ConfigureAwait(false);
                        state.Self._metrics.Attempt(op.Name, "success", index == 0, state.Scope);
                        return result;
                    }
                    catch (Exception e)
                    {
                        var caller = ctx.Properties.GetValue(CallerToken, default);
                        var match = TransientErrorMatcher.Classify(e, caller, attemptTimedOut: ctx.CancellationToken.IsCancellationRequested && !caller.IsCancellationRequested);
                        state.Self._metrics.Attempt(op.Name, match.Rule, index == 0, state.Scope);
                        if (match.IsTransient)
                        {
                            ctx.Properties.Set(LastTransient, match.Rule);
                        }

                        throw;
                    }
                },
                context,
                (Statement: statement, Scope: _scope, Time: _time, Self: this, Lane: lane)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var match = TransientErrorMatcher.Classify(e, cancellationToken);
            var rule = match.Class == ErrorClass.Stop && context.Properties.TryGetValue(LastTransient, out var last) ? "budget-exhausted:" + last : match.Rule;
            if ((match.Class != ErrorClass.Stop || rule != match.Rule) && match.Rule is not ("circuit-open" or "overloaded"))
            {
                _metrics.GaveUp(operation, rule, _scope);
                if (ShouldLog(operation, rule, out var suppressed))
                {
                    LogGaveUp(_logger, operation, lockName, epoch, rule, match.Class, e.GetType().Name, suppressed);
                }
            }

            throw;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    // A permit of the lane for one attempt. Not granted within the queue wait (or before the attempt's own timeout):
    // the statement is not sent. On a first attempt that is a definite "overloaded" (nothing happened); after an
    // earlier attempt that was sent and failed in doubt it stays in doubt (an attempt timeout), so the caller treats
    // the outcome as unknown — an acquire is then retried with the same holder id and abandoned, never answered Busy
    // over a grant that may have been made.
    private async Task<RateLimitLease> PermitAsync(DatabaseLane lane, string operation, int attemptIndex, CancellationToken attempt, CancellationToken caller)
    {
        var (limiter, permits, tag) = lane == DatabaseLane.Background
            ? (_background, _options.MaxConcurrentBackgroundStatements, "background")
            : (_foreground, _options.MaxConcurrentStatements, "foreground");
        var lease = limiter.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return lease;
        }

        lease.Dispose();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(attempt);
        wait.CancelAfter(_options.MaxQueueWait);
        try
        {
            lease = await limiter.AcquireAsync(1, wait.Token).ConfigureAwait(false);
            if (lease.IsAcquired)
            {
                return lease;
            }

            lease.Dispose();
        }
        catch (OperationCanceledException) when (!caller.IsCancellationRequested)
        {
        }

        _metrics.Refused(operation, tag, _scope);
        var message = $"The silo's {tag} database work is at its bound ({permits} statements at once); {operation} was not sent.";
        throw attemptIndex == 0
            ? new DatabaseOverloadedException(message)
            : new TimeoutRejectedException(message + " An earlier attempt was sent and its outcome is in doubt.");
    }

    // A repeated failure is logged once and then counted: per (operation, rule), one line per 10 s window, which
    // reports how many it stood for (a storm of thousands of failing leases once wrote millions of lines).
    private bool ShouldLog(string operation, string rule, out int suppressed)
    {
        var now = _time.GetTimestamp();
        var key = (operation, rule);
        while (true)
        {
            if (!_gaveUpLogged.TryGetValue(key, out var entry))
            {
                if (_gaveUpLogged.TryAdd(key, (now, 0)))
                {
                    suppressed = 0;
                    return true;
                }

                continue;
            }

            var fresh = _time.GetElapsedTime(entry.Since, now) >= LogWindow;
            var next = fresh ? (now, 0) : (entry.Since, entry.Suppressed + 1);
            if (_gaveUpLogged.TryUpdate(key, next, entry))
            {
                suppressed = entry.Suppressed;
                return fresh;
            }
        }
    }

    /// <summary>
    /// The pipeline: a circuit breaker over whole executions, retries classified by <see cref="TransientErrorMatcher"/>,
    /// the per-attempt timeout; and its telemetry (over <paramref name="telemetry"/>, the host's, whose logger factory it
    /// keeps): retries and timeouts are logged at Debug (a give-up is logged by <see cref="ExecuteAsync{T}"/>, once per
    /// operation and rule per 10 s), breaker changes at Warning and Information; per-execution events (executing,
    /// executed, each attempt) are not reported at all; and every event is tagged with the
    /// operation (<c>op</c>), the matcher rule (<c>rule</c>) and the service (<c>service</c>). The builder's own
    /// telemetry options are replaced for this pipeline only.
    /// </summary>
    public static void ConfigurePipeline(ResiliencePipelineBuilder builder, DatabaseResilienceOptions options, TelemetryOptions? telemetry = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var ours = new TelemetryOptions(telemetry ?? new TelemetryOptions()) { SeverityProvider = Severity };
        ours.MeteringEnrichers.Add(new Enricher());
        builder.ConfigureTelemetry(ours);

        // Only the events worth a count reach Polly's listener: every statement would otherwise report "executing",
        // "executed" and an attempt (three events, counted with their tags, on the hot path of every grant and renewal).
        builder.TelemetryListener = new NewsOnly(builder.TelemetryListener!);
        builder
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                Name = "cyclelock-db-breaker",
                FailureRatio = options.BreakerFailureRatio,
                MinimumThroughput = options.BreakerMinimumThroughput,
                SamplingDuration = options.BreakerSamplingDuration,
                BreakDuration = options.BreakerBreakDuration,
                // A failure for the breaker: a transient error, or the caller's budget running out after at least one
                // transient attempt (during an outage most renewals end that way).
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e
                    && (TransientErrorMatcher.Classify(e, args.Context.CancellationToken) is { IsTransient: true, Rule: not "circuit-open" }
                        || (e is OperationCanceledException && args.Context.Properties.TryGetValue(LastTransient, out _)))),
            })
            .AddRetry(new RetryStrategyOptions
            {
                Name = "cyclelock-db-retry",
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.BaseDelay,
                MaxDelay = options.MaxDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && Classify(e, args.Context) is { IsTransient: true, Rule: not "circuit-open" }),
                OnRetry = args => Classify(args.Outcome.Exception!, args.Context).Class == ErrorClass.TransientReconnect
                    && args.Context.Properties.TryGetValue(Executor, out var executor)
                        ? new ValueTask(executor.ReconnectAsync(args.Context.Properties.GetValue(AttemptStarted, long.MaxValue), args.Context.CancellationToken))
                        : default,
            })
            .AddTimeout(new TimeoutStrategyOptions
            {
                Name = "cyclelock-db-attempt-timeout",
                TimeoutGenerator = args => ValueTask.FromResult(args.Context.Properties.GetValue(AttemptTimeout, options.MaxAttemptTimeout)),
            });
    }

    // Without a registry (tests, the benchmark's baseline): the same shape, telemetry metered but not logged.
    private static ResiliencePipeline BuildUnregistered(DatabaseResilienceOptions options, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        ConfigurePipeline(builder, options);
        return builder.Build();
    }

    private static ErrorMatch Classify(Exception e, ResilienceContext context) =>
        TransientErrorMatcher.Classify(e, context.Properties.GetValue(CallerToken, default), e is TimeoutRejectedException);

    // Retries and timeouts are routine under a fault and metered anyway: Debug. Breaker changes are the news.
    private static ResilienceEventSeverity Severity(SeverityProviderArguments args) => args.Event.EventName switch
    {
        "OnCircuitOpened" => ResilienceEventSeverity.Warning,
        "OnCircuitClosed" => ResilienceEventSeverity.Information,
        "OnRetry" or "OnTimeout" or "OnCircuitHalfOpened" => ResilienceEventSeverity.Debug,
        _ => args.Event.Severity,
    };

    private sealed class NewsOnly(TelemetryListener inner) : TelemetryListener
    {
        public override void Write<TResult, TArgs>(in TelemetryEventArguments<TResult, TArgs> args)
        {
            if (args.Event.EventName is not ("PipelineExecuting" or "PipelineExecuted" or "ExecutionAttempt"))
            {
                inner.Write(in args);
            }
        }
    }

    // Polly's events carry the operation, the matcher rule of the outcome and the service, as CycleLock's counters do.
    private sealed class Enricher : MeteringEnricher
    {
        public override void Enrich<TResult, TArgs>(in EnrichmentContext<TResult, TArgs> context)
        {
            var resilience = context.TelemetryEvent.Context;
            if (resilience.Properties.TryGetValue(Operation, out var op))
            {
                context.Tags.Add(new("op", op.Name));
            }

            if (context.TelemetryEvent.Outcome?.Exception is { } e)
            {
                context.Tags.Add(new("rule", Classify(e, resilience).Rule));
            }

            if (resilience.Properties.TryGetValue(Executor, out var executor))
            {
                context.Tags.Add(executor._scope);
            }
        }
    }

    // Single-flight: the first caller clears the pool; callers arriving while it runs wait for the same task.
    // An attempt that took its connection before the last clear does not clear again (the pool it used is
    // gone already), so a burst of failures on reaped connections clears once, not once per failure.
    private Task ReconnectAsync(long attemptStarted, CancellationToken cancellationToken)
    {
        Task reconnect;
        lock (_reconnectGate)
        {
            if (_reconnect is { IsCompleted: false })
            {
                reconnect = _reconnect;
            }
            else if (attemptStarted < _lastClear || (_lastClear != long.MinValue && _time.GetElapsedTime(_lastClear) < MinClearInterval))
            {
                // The pool this attempt used is gone already, or was cleared a moment ago: no clear storm.
                return Task.CompletedTask;
            }
            else
            {
                _lastClear = _time.GetTimestamp();
                _reconnect = ClearPoolAsync();
                reconnect = _reconnect;
            }
        }

        return reconnect.WaitAsync(cancellationToken);
    }

    private async Task ClearPoolAsync()
    {
        await Task.Yield();
        _dataSource.Clear();
        _metrics.Reconnected(_scope);
        LogReconnect(_logger);
    }

    private readonly record struct OperationInfo(string Name, string? Lock, long? Epoch);

    [LoggerMessage(2, LogLevel.Information, "Lease store: cleared the connection pool to reconnect")]
    private static partial void LogReconnect(ILogger logger);

    [LoggerMessage(3, LogLevel.Warning, "Lease store {Operation} lock {Lock} epoch {Epoch} gave up: rule {Rule} ({Class}, {ExceptionType}); {Suppressed} more like it in the last 10 s were counted, not logged")]
    private static partial void LogGaveUp(ILogger logger, string operation, string? @lock, long? epoch, string rule, ErrorClass @class, string exceptionType, int suppressed);
}
