using System.ComponentModel.DataAnnotations;

namespace CycleLock.Persistence;

/// <summary>Where and how the lease store talks to PostgreSQL.</summary>
public sealed class LeaseStoreOptions
{
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

    /// <summary>Apply the schema migrations at silo start. Default true.</summary>
    public bool RunMigrations { get; set; } = true;
}
