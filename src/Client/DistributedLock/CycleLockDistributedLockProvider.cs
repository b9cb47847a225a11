using CycleLock.Client;
using Medallion.Threading;

namespace CycleLock.DistributedLock;

/// <summary>
/// <see cref="IDistributedLockProvider"/> over a <see cref="CycleLockClient"/>: each lock is a CycleLock lease of
/// <see cref="Ttl"/> (default <see cref="CycleLockClientOptions.DefaultTtl"/>) that the SDK keeps alive while the
/// handle is held; a wait joins the lock's fair waiting queue instead of polling.
/// </summary>
public sealed class CycleLockDistributedLockProvider : IDistributedLockProvider
{
    private readonly CycleLockClient _client;

    /// <summary>A provider whose locks are leases of <paramref name="ttl"/> (null: the client's default TTL). The
    /// TTL is checked against the cluster's floor and maximum when a lock is acquired.</summary>
    public CycleLockDistributedLockProvider(CycleLockClient client, TimeSpan? ttl = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (ttl is { } value && (value <= TimeSpan.Zero || value > RequestRules.MaxTtl))
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), value, $"TTL {value} is out of range (rule: above zero and at most {RequestRules.MaxTtl}; the cluster checks its own floor and maximum at acquire).");
        }

        _client = client;
        Ttl = ttl;
    }

    /// <summary>The TTL of every lease this provider takes; null: <see cref="CycleLockClientOptions.DefaultTtl"/>.</summary>
    public TimeSpan? Ttl { get; }

    /// <summary>The lock named <paramref name="name"/>. Unlike providers that hash any string, the name must be a
    /// CycleLock lock name (at most 256 UTF-8 bytes after NFC normalisation, no control or invisible format
    /// characters): an invalid one throws <see cref="ArgumentException"/> naming the rule, here, before anything is sent.</summary>
    public CycleLockDistributedLock CreateLock(string name) => new(_client, LockName.Normalize(name), Ttl);

    /// <inheritdoc />
    IDistributedLock IDistributedLockProvider.CreateLock(string name) => CreateLock(name);
}
