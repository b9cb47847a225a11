using CycleLock.Client;
using CycleLock.DistributedLock;
using Medallion.Threading;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers CycleLock as the application's <see cref="IDistributedLockProvider"/>.</summary>
public static class CycleLockDistributedLockServiceCollectionExtensions
{
    /// <summary>Registers a singleton <see cref="IDistributedLockProvider"/> (and <see cref="CycleLockDistributedLockProvider"/>)
    /// over the <see cref="CycleLockClient"/> that <c>AddCycleLockClient</c> registers; its locks are leases of
    /// <paramref name="ttl"/> (null: the client's default TTL).</summary>
    public static IServiceCollection AddCycleLockDistributedLockProvider(this IServiceCollection services, TimeSpan? ttl = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        // The last registration wins (a second call with another TTL is not silently ignored).
        services.AddSingleton(sp => new CycleLockDistributedLockProvider(sp.GetRequiredService<CycleLockClient>(), ttl));
        services.AddSingleton<IDistributedLockProvider>(sp => sp.GetRequiredService<CycleLockDistributedLockProvider>());
        return services;
    }
}
