using System.Net.Sockets;
using CycleLock.Resilience;
using Npgsql;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace CycleLock.Tests.Resilience;

/// <summary>Every matcher rule both ways, wrapped and aggregated, built as Npgsql really raises them.</summary>
public sealed class MatcherTests
{
    private static PostgresException Pg(string sqlState, string message, string severity = "FATAL") => new(message, severity, severity, sqlState);

    private static NpgsqlException Io(Exception inner, string message = "Exception while reading from stream") => new(message, inner);

    private static NpgsqlException ConnectFailed(SocketError error) => new("Failed to connect to 127.0.0.1:5432", new SocketException((int)error));

    /// <summary>(case, exception, class, rule).</summary>
    public static TheoryData<string, Exception, ErrorClass, string> Cases => new()
    {
        // Cause first.
        { "Polly attempt timeout", new TimeoutRejectedException("timeout", new OperationCanceledException("cancelled", Pg("57014", "canceling statement due to user request", "ERROR"))), ErrorClass.Transient, "attempt-timeout" },
        { "breaker open", new BrokenCircuitException("open"), ErrorClass.Transient, "circuit-open" },
        { "Npgsql command timeout", Io(new TimeoutException("Timeout during reading attempt")), ErrorClass.TransientReconnect, "npgsql-command-timeout" },
        { "pool exhausted (no clear)", new NpgsqlException("The connection pool has been exhausted, either raise 'Max Pool Size' (currently 100) or 'Timeout' (currently 15 seconds) in your connection string.", new TimeoutException()), ErrorClass.Transient, "pool-exhausted" },
        { "server statement_timeout", Pg("57014", "canceling statement due to statement timeout", "ERROR"), ErrorClass.Permanent, "server-statement-timeout" },
        { "server lock_timeout", Pg("55P03", "canceling statement due to lock timeout", "ERROR"), ErrorClass.Permanent, "server-lock-timeout" },

        // Permanent.
        { "wrong password direct", Pg("28P01", "password authentication failed for user \"cyclelock\""), ErrorClass.Permanent, "auth-failed" },
        { "pooler SASL failure", Pg("08P01", "SASL authentication failed"), ErrorClass.Permanent, "pooler-permanent" },
        { "pooler no such database", Pg("08P01", "no such database: nosuchdb"), ErrorClass.Permanent, "pooler-permanent" },
        { "pooler unsupported parameter", Pg("08P01", "unsupported startup parameter: search_path"), ErrorClass.Permanent, "pooler-permanent" },
        { "prepared statement missing", Pg("26000", "prepared statement \"_p1\" does not exist", "ERROR"), ErrorClass.Permanent, "prepared-statement" },
        { "prepared statement exists", Pg("42P05", "prepared statement \"_p1\" already exists", "ERROR"), ErrorClass.Permanent, "prepared-statement" },
        { "unique violation", Pg("23505", "duplicate key value violates unique constraint", "ERROR"), ErrorClass.Permanent, "unique-violation" },
        { "unknown 08P01", Pg("08P01", "invalid frontend message type 0"), ErrorClass.Permanent, "unknown" },
        { "unknown SQLSTATE", Pg("42703", "column \"nope\" does not exist", "ERROR"), ErrorClass.Permanent, "unknown" },
        { "plain exception", new InvalidOperationException("bug"), ErrorClass.Permanent, "unknown" },
        { "IO not under Npgsql", new IOException("disk"), ErrorClass.Permanent, "unknown" },

        // Pooler transient 08P01 messages.
        { "client_idle_timeout", Pg("08P01", "client_idle_timeout"), ErrorClass.TransientReconnect, "pooler-transient" },
        { "server_login_retry", Pg("08P01", "server login has been failing, try again later (server_login_retry)"), ErrorClass.TransientReconnect, "pooler-transient" },
        { "server conn crashed", Pg("08P01", "server conn crashed?"), ErrorClass.TransientReconnect, "pooler-transient" },
        { "query_wait_timeout", Pg("08P01", "query_wait_timeout"), ErrorClass.TransientReconnect, "pooler-transient" },
        { "query_timeout", Pg("08P01", "query_timeout"), ErrorClass.TransientReconnect, "pooler-transient" },
        { "idle_transaction_timeout", Pg("08P01", "idle_transaction_timeout"), ErrorClass.TransientReconnect, "pooler-transient" },
        { "no more connections", Pg("08P01", "no more connections allowed (max_client_conn)"), ErrorClass.TransientReconnect, "pooler-transient" },
        { "client_login_timeout", Pg("08P01", "client_login_timeout (server down)"), ErrorClass.TransientReconnect, "pooler-transient" },
        { "database configuration changed", Pg("08P01", "database configuration changed"), ErrorClass.TransientReconnect, "pooler-transient" },

        // Connection and server state.
        { "08000", Pg("08000", "connection exception"), ErrorClass.TransientReconnect, "connection-exception" },
        { "08001", Pg("08001", "could not establish connection"), ErrorClass.TransientReconnect, "connection-exception" },
        { "08003", Pg("08003", "connection does not exist"), ErrorClass.TransientReconnect, "connection-exception" },
        { "08004", Pg("08004", "server rejected the connection"), ErrorClass.TransientReconnect, "connection-exception" },
        { "08006", Pg("08006", "connection failure"), ErrorClass.TransientReconnect, "connection-exception" },
        { "57P01 terminated", Pg("57P01", "terminating connection due to administrator command"), ErrorClass.TransientReconnect, "server-shutdown" },
        { "57P02 crash", Pg("57P02", "terminating connection because of crash of another server process"), ErrorClass.TransientReconnect, "server-shutdown" },
        { "57P03 starting up", Pg("57P03", "the database system is starting up"), ErrorClass.TransientReconnect, "server-shutdown" },
        { "53300 too many clients", Pg("53300", "sorry, too many clients already"), ErrorClass.Transient, "too-many-connections" },
        { "40001 serialization", Pg("40001", "could not serialize access", "ERROR"), ErrorClass.Transient, "serialization-or-deadlock" },
        { "40P01 deadlock", Pg("40P01", "deadlock detected", "ERROR"), ErrorClass.Transient, "serialization-or-deadlock" },
        { "session-mode exhaustion (Supavisor)", Pg("XX000", "(EMAXCONNSESSION) max clients reached in session mode"), ErrorClass.Transient, "too-many-connections" },
        { "session-mode exhaustion (PgBouncer)", Pg("08P01", "no more connections allowed (max_client_conn)"), ErrorClass.TransientReconnect, "pooler-transient" },
        { "reserved slots", Pg("53300", "remaining connection slots are reserved for non-replication superuser connections"), ErrorClass.Transient, "too-many-connections" },

        // Socket and stream errors under Npgsql.
        { "pooler restart: stream ended", Io(new EndOfStreamException("Attempted to read past the end of the stream.")), ErrorClass.TransientReconnect, "socket-io" },
        { "connection refused", ConnectFailed(SocketError.ConnectionRefused), ErrorClass.TransientReconnect, "socket-io" },
        { "connection reset", Io(new IOException("Unable to read data", new SocketException((int)SocketError.ConnectionReset))), ErrorClass.TransientReconnect, "socket-io" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Classify_AsRaised(string name, Exception exception, ErrorClass expected, string rule)
    {
        Assert.True(new ErrorMatch(expected, rule) == TransientErrorMatcher.Classify(exception), $"{name}: expected {expected}/{rule}, got {TransientErrorMatcher.Classify(exception)}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Classify_WrappedAndAggregated_SameVerdictForTreeRules(string name, Exception exception, ErrorClass expected, string rule)
    {
        if (TransientErrorMatcher.Rules.First(r => r.Name == rule || rule == "unknown").Scope == RuleScope.Cause && rule != "unknown")
        {
            // Cause rules look only at the exception as thrown: wrapped, a cause is not the cause any more.
            Assert.NotEqual(rule, TransientErrorMatcher.Classify(new AggregateException(exception)).Rule);
            return;
        }

        Assert.True(new ErrorMatch(expected, rule) == TransientErrorMatcher.Classify(new AggregateException(new InvalidOperationException("other"), exception)), $"{name} aggregated");
        Assert.True(new ErrorMatch(expected, rule) == TransientErrorMatcher.Classify(new InvalidOperationException("wrapper", new AggregateException(exception))), $"{name} wrapped in an aggregate");
    }

    [Fact]
    public void Classify_CallerCancelled_StopsEvenOverATransientCause()
    {
        using var caller = new CancellationTokenSource();
        caller.Cancel();
        var error = new OperationCanceledException("cancelled", Pg("57014", "canceling statement due to user request", "ERROR"));

        Assert.Equal(new ErrorMatch(ErrorClass.Stop, "caller-cancelled"), TransientErrorMatcher.Classify(error, caller.Token));
        Assert.Equal(new ErrorMatch(ErrorClass.Transient, "attempt-timeout"), TransientErrorMatcher.Classify(error, CancellationToken.None, attemptTimedOut: true));
    }

    [Fact]
    public void Classify_PermanentInsideTransient_PermanentWins()
    {
        var error = new AggregateException(Pg("57P01", "terminating connection due to administrator command"), Pg("28P01", "password authentication failed"));

        Assert.Equal(new ErrorMatch(ErrorClass.Permanent, "auth-failed"), TransientErrorMatcher.Classify(error));
    }

    [Fact]
    public void Rules_AreNamedUniquely()
    {
        Assert.Equal(TransientErrorMatcher.Rules.Count, TransientErrorMatcher.Rules.Select(r => r.Name).Distinct().Count());
    }
}
