using CycleLock;
using CycleLock.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers leader elections over the worker SDK.</summary>
public static class CycleLockLeaderServiceCollectionExtensions
{
    /// <summary>
    /// Elects one leader among the processes that register the same <paramref name="name"/>: a hosted service
    /// campaigns with a fair waiting acquire, runs <paramref name="lead"/> while this process holds the lease —
    /// its <see cref="CancellationToken"/> fires when the lease is lost or the host stops —, releases when it
    /// returns (on host shutdown too, so a follower leads at once) and campaigns again. The callback gets the term
    /// (the lease's fencing epoch) to fence its writes with. Returning from the callback steps down.
    /// <see cref="CycleLockLeader"/> (a keyed singleton, key <paramref name="name"/>) says whether this process leads,
    /// who leads now, and raises <see cref="CycleLockLeader.LeadershipChanged"/>. Call after <c>AddCycleLockClient</c>.
    /// The name is checked here: an invalid one throws <see cref="ArgumentException"/> naming the rule.
    /// </summary>
    public static IServiceCollection AddCycleLockLeader(this IServiceCollection services, string name, Func<LeaderLease, CancellationToken, Task> lead, Action<CycleLockLeaderOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(lead);
        var normalized = LockName.Normalize(name);
        if (!services.Any(d => d.ServiceType == typeof(CycleLockClient)))
        {
            // Hosted services stop in reverse order: registered before the client, the leader would outlive the Orleans
            // client at shutdown, its release would fail, and a follower would wait a whole TTL instead of leading at once.
            throw new InvalidOperationException($"AddCycleLockLeader({LockName.Quote(normalized)}) needs AddCycleLockClient first (rule: register the client, then the leader, so the leader releases before the client stops).");
        }

        var options = new CycleLockLeaderOptions();
        configure?.Invoke(options);
        if (options.Ttl is { } ttl && (ttl <= TimeSpan.Zero || ttl > RequestRules.MaxTtl))
        {
            throw new ArgumentOutOfRangeException(nameof(configure), ttl, $"Leader TTL {ttl} is out of range (rule: above zero and at most {RequestRules.MaxTtl}; the cluster checks its floor at the first campaign).");
        }

        if (options.RetryDelay <= TimeSpan.Zero || options.RetryDelay > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(nameof(configure), options.RetryDelay, $"Leader RetryDelay {options.RetryDelay} is out of range (rule: above zero and at most 10 minutes).");
        }

        services.AddKeyedSingleton(normalized, (sp, _) => new CycleLockLeader(
            normalized,
            sp.GetRequiredService<CycleLockClient>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<CycleLockLeader>() ?? NullLogger<CycleLockLeader>.Instance));
        services.AddSingleton<IHostedService>(sp => new CycleLockLeaderService(
            sp.GetRequiredKeyedService<CycleLockLeader>(normalized),
            sp.GetRequiredService<CycleLockClient>(),
            lead,
            options,
            sp.GetService<ILoggerFactory>()?.CreateLogger<CycleLockLeader>() ?? NullLogger<CycleLockLeader>.Instance));
        return services;
    }
}
