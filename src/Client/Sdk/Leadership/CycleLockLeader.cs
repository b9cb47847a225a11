using Microsoft.Extensions.Logging;

namespace CycleLock.Client;

/// <summary>
/// One leader election as this process sees it: whether it leads, in which term, and who leads now. Registered
/// by <c>AddCycleLockLeader(name, …)</c> as a keyed singleton (key: the name); the hosted service that campaigns
/// updates it.
/// </summary>
public sealed class CycleLockLeader
{
    private readonly CycleLockClient _client;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private long _term;
    private bool _isLeader;

    internal CycleLockLeader(string name, CycleLockClient client, ILogger logger)
    {
        Name = name;
        _client = client;
        _logger = logger;
    }

    /// <summary>Raised when this process becomes leader or stops being leader (on the campaigning thread; keep
    /// handlers short, an exception from one is logged and ignored).</summary>
    public event EventHandler<LeadershipChangedEventArgs>? LeadershipChanged;

    /// <summary>The election's lock name.</summary>
    public string Name { get; }

    /// <summary>True from this process's grant until its lease is lost (at the loss, even while a slow callback winds
    /// down) or its callback returns.</summary>
    public bool IsLeader
    {
        get
        {
            lock (_gate)
            {
                return _isLeader;
            }
        }
    }

    /// <summary>The term this process leads, or null when it does not lead.</summary>
    public long? Term
    {
        get
        {
            lock (_gate)
            {
                return _isLeader ? _term : null;
            }
        }
    }

    /// <summary>Who leads now, from the cluster: the lock's state, its holder's label and the term (epoch).
    /// <see cref="LockInfo.State"/> is not held while no one leads (between a leader's loss and the next grant).</summary>
    public Task<LockInfo> CurrentLeaderAsync() => _client.InspectAsync(Name);

    internal void Change(bool isLeader, long term)
    {
        lock (_gate)
        {
            _isLeader = isLeader;
            _term = term;
        }

        try
        {
            LeadershipChanged?.Invoke(this, new LeadershipChangedEventArgs(Name, isLeader, term));
        }
#pragma warning disable CA1031 // a subscriber's failure must not stop the election
        catch (Exception e)
#pragma warning restore CA1031
        {
            LeaderLog.HandlerFailed(_logger, LockName.Quote(Name), e);
        }
    }
}
