using System.Net.Sockets;
using CycleLock.Resilience;
using Npgsql;

namespace CycleLock.Tests.Resilience;

/// <summary>
/// The TypeScript (postgres.js) matcher whose failure motivated this project, case by case: each of its
/// transient cases with the .NET exception Npgsql raises for the same fault, and its verdict here.
/// </summary>
public sealed class PostgresJsMatcherPortTests
{
    private static PostgresException Pg(string sqlState, string message) => new(message, "FATAL", "FATAL", sqlState);

    /// <summary>(postgres.js case, .NET counterpart, transient here?).</summary>
    public static TheoryData<string, Exception, bool> Cases => new()
    {
        { "SQLSTATE class 08", Pg("08006", "connection failure"), true },
        { "CONNECTION_ENDED", new NpgsqlException("Exception while reading from stream", new EndOfStreamException()), true },
        { "CONNECTION_CLOSED", new NpgsqlException("Exception while writing to stream", new IOException("Broken pipe", new SocketException((int)SocketError.Shutdown))), true },
        { "53300", Pg("53300", "sorry, too many clients already"), true },
        { "No database connection", new NpgsqlException("Failed to connect to 127.0.0.1:6432", new SocketException((int)SocketError.ConnectionRefused)), true },
        { "connection refused", new NpgsqlException("Failed to connect to 127.0.0.1:5432", new SocketException((int)SocketError.ConnectionRefused)), true },
        { "the database system is starting up", Pg("57P03", "the database system is starting up"), true },
        { "Connection terminated unexpectedly", new NpgsqlException("Exception while reading from stream", new EndOfStreamException("Attempted to read past the end of the stream.")), true },
        { "ECONNRESET", new NpgsqlException("Exception while reading from stream", new IOException("Unable to read data from the transport connection: Connection reset by peer.", new SocketException((int)SocketError.ConnectionReset))), true },
        { "connection ... closed (pooler reaped it)", Pg("08P01", "client_idle_timeout"), true },
        { "server closed the connection", Pg("57P01", "terminating connection due to administrator command"), true },
        { "could not connect to server", new NpgsqlException("Failed to connect to 127.0.0.1:5432", new SocketException((int)SocketError.HostUnreachable)), true },
        { "EMAXCONNSESSION", Pg("XX000", "(EMAXCONNSESSION) max clients reached in session mode"), true },
        { "too many clients already", Pg("53300", "sorry, too many clients already"), true },
        { "max ... clients in session mode", Pg("XX000", "Max client connections reached"), true },
        { "remaining connection slots are reserved", Pg("53300", "remaining connection slots are reserved for non-replication superuser connections"), true },

        // Retried there on purpose; permanent here: a wrong password does not heal by retrying, and a retry storm locks accounts.
        { "password authentication failed", Pg("28P01", "password authentication failed for user \"cyclelock\""), false },
        { "password authentication failed (via PgBouncer)", Pg("08P01", "password authentication failed"), false },

        // Excluded there as here.
        { "57014 excluded", new PostgresException("canceling statement due to statement timeout", "ERROR", "ERROR", "57014"), false },
        { "55P03 excluded", new PostgresException("canceling statement due to lock timeout", "ERROR", "ERROR", "55P03"), false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void PortedCase_ClassifiedAsHere(string postgresJsCase, Exception dotnet, bool transient)
    {
        var match = TransientErrorMatcher.Classify(dotnet);
        Assert.True(transient == match.IsTransient, $"{postgresJsCase}: expected {(transient ? "transient" : "permanent")}, got {match}");
    }
}
