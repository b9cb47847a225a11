using System.Net.Sockets;
using Npgsql;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace CycleLock.Resilience;

/// <summary>
/// Classifies a failed database call (DESIGN §7). Pure and table-driven: rules are tried in order and the
/// first whose predicate holds for the exception — or, for the tree rules, for any exception in its inner
/// and aggregate tree — decides. By cause first: the caller's cancellation stops; our own attempt timeout
/// is transient (the outcome is in doubt); the server's statement and lock timeouts are permanent. Then the
/// pooler's and the server's permanent errors, then the transient ones; anything unknown is permanent.
/// </summary>
public static class TransientErrorMatcher
{
    /// <summary>PgBouncer / hosted-pooler messages that mean "this connection or this moment failed, retry".</summary>
    private static readonly string[] PoolerTransientMessages =
    [
        "client_idle_timeout",
        "server_login_retry",
        "server login has been failing",
        "server conn crashed",
        "query_wait_timeout",
        "query_timeout",
        "idle_transaction_timeout",
        "no more connections allowed",
        "client_login_timeout",
        "database configuration changed",
    ];

    /// <summary>Session-mode exhaustion messages of hosted poolers (Supavisor, PgBouncer) and PostgreSQL.</summary>
    private static readonly string[] ExhaustionMessages =
    [
        "too many clients already",
        "max clients in session mode",
        "max client connections reached",
        "emaxconnsession",
        "remaining connection slots are reserved",
    ];

    /// <summary>Pooler messages that stay permanent: authentication and configuration.</summary>
    private static readonly string[] PoolerPermanentMessages =
    [
        "sasl authentication failed",
        "password authentication failed",
        "auth failed",
        "no such database",
        "no such user",
        "unsupported startup parameter",
        "unsupported pkt type",
    ];

    /// <summary>The rules, in the order they are tried.</summary>
    public static IReadOnlyList<MatcherRule> Rules { get; } =
    [
        // Cause first.
        new("caller-cancelled", ErrorClass.Stop, RuleScope.Cause, (e, c) => e is OperationCanceledException && c.CallerCancelled),
        new("circuit-open", ErrorClass.Transient, RuleScope.Cause, (e, _) => e is BrokenCircuitException),
        new("overloaded", ErrorClass.Permanent, RuleScope.Cause, (e, _) => e is DatabaseOverloadedException),
        new("attempt-timeout", ErrorClass.Transient, RuleScope.Cause, (e, c) => e is TimeoutRejectedException || (e is OperationCanceledException && c.AttemptTimedOut)),
        new("pool-exhausted", ErrorClass.Transient, RuleScope.Cause, (e, _) => e is NpgsqlException { InnerException: TimeoutException } && e is not PostgresException && e.Message.Contains("pool", StringComparison.OrdinalIgnoreCase)),
        new("npgsql-command-timeout", ErrorClass.TransientReconnect, RuleScope.Cause, (e, _) => e is NpgsqlException { InnerException: TimeoutException } && e is not PostgresException),
        new("server-statement-timeout", ErrorClass.Permanent, RuleScope.Cause, (e, _) => e is PostgresException { SqlState: "57014" }),
        new("server-lock-timeout", ErrorClass.Permanent, RuleScope.Cause, (e, _) => e is PostgresException { SqlState: "55P03" }),

        // Permanent errors anywhere in the tree win over transient ones.
        new("auth-failed", ErrorClass.Permanent, RuleScope.Tree, (e, _) => e is PostgresException { SqlState: "28P01" or "28000" }),
        new("pooler-permanent", ErrorClass.Permanent, RuleScope.Tree, (e, _) => e is PostgresException { SqlState: "08P01" } p && Contains(p.MessageText, PoolerPermanentMessages)),
        new("prepared-statement", ErrorClass.Permanent, RuleScope.Tree, (e, _) => e is PostgresException { SqlState: "26000" or "42P05" }),
        new("unique-violation", ErrorClass.Permanent, RuleScope.Tree, (e, _) => e is PostgresException { SqlState: "23505" }),

        // Transient.
        new("pooler-transient", ErrorClass.TransientReconnect, RuleScope.Tree, (e, _) => e is PostgresException { SqlState: "08P01" } p && Contains(p.MessageText, PoolerTransientMessages)),
        new("connection-exception", ErrorClass.TransientReconnect, RuleScope.Tree, (e, _) => e is PostgresException { SqlState: "08000" or "08001" or "08003" or "08004" or "08006" }),
        new("server-shutdown", ErrorClass.TransientReconnect, RuleScope.Tree, (e, _) => e is PostgresException { SqlState: "57P01" or "57P02" or "57P03" }),
        new("too-many-connections", ErrorClass.Transient, RuleScope.Tree, (e, _) => e is PostgresException { SqlState: "53300" } || (e is PostgresException p && Contains(p.MessageText, ExhaustionMessages))),
        new("serialization-or-deadlock", ErrorClass.Transient, RuleScope.Tree, (e, _) => e is PostgresException { SqlState: "40001" or "40P01" }),
        new("socket-io", ErrorClass.TransientReconnect, RuleScope.Tree, (e, c) => e is IOException or SocketException or TimeoutException && c.UnderNpgsql),
        new("npgsql-transient", ErrorClass.TransientReconnect, RuleScope.Tree, (e, _) => e is NpgsqlException { IsTransient: true } and not PostgresException),
    ];

    /// <summary>Classifies <paramref name="exception"/>. <paramref name="callerToken"/> is the caller's token
    /// (its cancellation means stop); <paramref name="attemptTimedOut"/> says our own attempt timeout fired.</summary>
    public static ErrorMatch Classify(Exception exception, CancellationToken callerToken = default, bool attemptTimedOut = false)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var context = new MatchContext(callerToken.IsCancellationRequested, attemptTimedOut, false);
        foreach (var rule in Rules)
        {
            if (rule.Scope == RuleScope.Cause)
            {
                if (rule.Matches(exception, context))
                {
                    return new ErrorMatch(rule.Class, rule.Name);
                }

                continue;
            }

            foreach (var (inner, underNpgsql) in Walk(exception, false))
            {
                if (rule.Matches(inner, context with { UnderNpgsql = underNpgsql }))
                {
                    return new ErrorMatch(rule.Class, rule.Name);
                }
            }
        }

        return new ErrorMatch(ErrorClass.Permanent, "unknown");
    }

    private static IEnumerable<(Exception Exception, bool UnderNpgsql)> Walk(Exception exception, bool underNpgsql)
    {
        yield return (exception, underNpgsql);
        var below = underNpgsql || exception is NpgsqlException;
        if (exception is AggregateException aggregate)
        {
            foreach (var inner in aggregate.InnerExceptions)
            {
                foreach (var item in Walk(inner, below))
                {
                    yield return item;
                }
            }
        }
        else if (exception.InnerException is { } inner)
        {
            foreach (var item in Walk(inner, below))
            {
                yield return item;
            }
        }
    }

    private static bool Contains(string? text, string[] needles)
    {
        if (text is null)
        {
            return false;
        }

        foreach (var needle in needles)
        {
            if (text.Contains(needle, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
