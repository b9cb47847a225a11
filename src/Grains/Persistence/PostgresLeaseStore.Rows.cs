using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace CycleLock.Persistence;

// Row mapping and parameters: how a result row becomes a StoreResult or LockInfo, and typed parameters (no value is ever concatenated).
public sealed partial class PostgresLeaseStore
{
    // One op_result (migration 0001) starting at column <paramref name="at"/>.
    private static StoreResult ReadResult(DbDataReader reader, int at)
    {
        var syncCommit = reader.GetString(at + 13);
        if (syncCommit == "off")
        {
            throw new LeaseStoreConfigurationException(
                "The lease store's database session runs with synchronous_commit = off: an acknowledged grant could be lost and its epoch reissued. " +
                "Set it on for the store's role (ALTER ROLE ... SET synchronous_commit = on) and reconnect; behind a pooler, restart its server connections.");
        }

        return new StoreResult(
            StoreOutcomes.Parse(reader.GetString(at)),
            reader.GetInt64(at + 1),
            NullableGuid(reader, at + 2),
            NullableString(reader, at + 3),
            NullableString(reader, at + 4),
            NullableString(reader, at + 5),
            reader.IsDBNull(at + 6) ? TimeSpan.Zero : reader.GetFieldValue<TimeSpan>(at + 6),
            NullableTime(reader, at + 7),
            reader.GetFieldValue<DateTimeOffset>(at + 8),
            reader.IsDBNull(at + 9) ? null : reader.GetFieldValue<TimeSpan>(at + 9),
            reader.GetInt32(at + 10),
            reader.GetInt32(at + 11),
            NullableString(reader, at + 12));
    }

    private static StoreResult Busy(StoreOutcome outcome) =>
        new(outcome, 0, null, null, null, null, TimeSpan.Zero, null, DateTimeOffset.MinValue, null, 0, 0, "fenced write in flight");

    private static LockInfo ReadLock(DbDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1) switch
        {
            "held" => LockState.Held,
            "dead" => LockState.Dead,
            _ => LockState.Free,
        },
        reader.GetInt64(2),
        NullableGuid(reader, 3),
        NullableString(reader, 4),
        NullableTime(reader, 5),
        NullableTime(reader, 6),
        NullableTime(reader, 7),
        NullableTime(reader, 8),
        reader.GetFieldValue<TimeSpan>(9),
        reader.IsDBNull(10) ? null : reader.GetFieldValue<TimeSpan>(10),
        reader.GetInt32(11),
        reader.GetInt32(12),
        NullableString(reader, 13),
        NullableString(reader, 14),
        true);

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static Guid? NullableGuid(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetGuid(ordinal);

    private static DateTimeOffset? NullableTime(DbDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return null;
        }

        // -infinity / infinity arrive as DateTime.MinValue / MaxValue: "no fence".
        var value = reader.GetFieldValue<DateTime>(ordinal);
        return value == DateTime.MinValue || value == DateTime.MaxValue ? null : new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }

    private static NpgsqlParameter Text(string? value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };

    private static NpgsqlParameter Uuid(Guid value) => new() { NpgsqlDbType = NpgsqlDbType.Uuid, Value = value };

    private static NpgsqlParameter Bytes(byte[] value) => new() { NpgsqlDbType = NpgsqlDbType.Bytea, Value = value };

    private static NpgsqlParameter Interval(TimeSpan value) => new() { NpgsqlDbType = NpgsqlDbType.Interval, Value = value };

    private static NpgsqlParameter Int(int value) => new() { NpgsqlDbType = NpgsqlDbType.Integer, Value = value };

    private static NpgsqlParameter Long(long value) => new() { NpgsqlDbType = NpgsqlDbType.Bigint, Value = value };

    private static NpgsqlParameter ArrayOf<T>(NpgsqlDbType elementType, IEnumerable<T> values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | elementType, Value = values.ToArray() };

    private static NpgsqlParameter Bool(bool value) => new() { NpgsqlDbType = NpgsqlDbType.Boolean, Value = value };
}
