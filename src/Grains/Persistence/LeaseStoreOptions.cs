using System.ComponentModel.DataAnnotations;

namespace CycleLock.Persistence;

/// <summary>Where and how the lease store talks to PostgreSQL.</summary>
public sealed class LeaseStoreOptions
{
    /// <summary>The configuration section these settings bind from.</summary>
    public const string Section = "CycleLock:Store";

    /// <summary>Npgsql connection string (required). Never logged.</summary>
    [Required]
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>Namespace of this deployment's rows; defaults to the Orleans ServiceId.</summary>
    public string? ServiceId { get; set; }

    /// <summary>How long a grant waits for the row lock before answering Busy (a fenced write in flight).
    /// Default 250 ms; 10 ms to 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan GrantLockTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a force-release waits for the row lock (an operator can wait for a guarded
    /// write to commit). Default 5 s; 10 ms to 60 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan ForceReleaseLockTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long history is kept (N1 holds within it). Default 30 days; 1 hour to 10 years.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "3650.00:00:00")]
    public TimeSpan HistoryRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long a spent holder id is kept: far longer than any acquire stays in flight. Default 1 day; 1 hour to 365 days.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "365.00:00:00")]
    public TimeSpan SpentHolderRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How often each silo prunes history and spent holder ids. Default 1 hour; 1 minute to 1 day.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Rows deleted per prune statement. Default 1000; 1 to 100 000.</summary>
    [Range(1, 100_000)]
    public int PruneBatchSize { get; set; } = 1000;

    /// <summary>Pooler-safe connections (FACTS: transaction-mode PgBouncer): <c>No Reset On Close</c>, no
    /// auto-prepare, and idle pooled connections closed after <see cref="IdleConnectionLifetime"/> so a pooler's
    /// idle timeout rarely reaps one first. The transient-error matcher heals either way. Default true.</summary>
    public bool PoolerSafe { get; set; } = true;

    /// <summary>With <see cref="PoolerSafe"/>: how long a pooled connection may sit idle (keep it below the
    /// pooler's client idle timeout). Default 5 s; 2 s to 1 h.</summary>
    [Range(typeof(TimeSpan), "00:00:02", "01:00:00")]
    public TimeSpan IdleConnectionLifetime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Apply the schema migrations at silo start. Default false: the migrate step
    /// (<c>CycleLock.Silo migrate</c>) applies them once per release, and a silo only checks the schema at start
    /// (a silo's role then needs no DDL rights). Single-process and test hosts may turn it on.</summary>
    public bool RunMigrations { get; set; }
}
