using CycleLock.Leasing;
using CycleLock.Persistence;
using CycleLock.Resilience;
using CycleLock.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using Polly.Registry;
using Polly.Telemetry;
using Orleans.Configuration;

namespace CycleLock.Hosting;

/// <summary>Adds CycleLock (grains, lease store, migrations, validated options) to a silo.</summary>
public static class CycleLockSiloBuilderExtensions
{
    /// <summary>The largest message header a CycleLock silo reads (64 KiB; Orleans' default is 10 MiB).</summary>
    public const int MaxMessageHeaderSize = 64 * 1024;

    /// <summary>
    /// Adds CycleLock to <paramref name="builder"/>: the PostgreSQL lease store over one singleton
    /// <see cref="NpgsqlDataSource"/>, the schema migrations at start, and the timing options,
    /// validated at start (a bad value stops the silo with a message naming the key).
    /// </summary>
    public static ISiloBuilder AddCycleLocks(this ISiloBuilder builder, Action<LeaseStoreOptions> configureStore, Action<CycleLockOptions>? configureLocks = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddCycleLockServices(configureStore, configureLocks);
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, MigrationLifecycleParticipant>();

        // A message header (grain ids, request context) above this is refused as the frame is read: its connection is
        // closed before the header is decoded, so a megabyte lock name from a raw client costs no placement, activation
        // or log of the key. CycleLock's own headers are well under 1 KB (a name is at most 256 bytes).
        builder.Services.Configure<SiloMessagingOptions>(o => o.MaxMessageHeaderSize = MaxMessageHeaderSize);
        return builder;
    }

    /// <summary>The services behind <see cref="AddCycleLocks"/> (options with their validation, the data
    /// source, the lease store and the pruner), for hosts and tests that compose them themselves.</summary>
    public static IServiceCollection AddCycleLockServices(this IServiceCollection services, Action<LeaseStoreOptions> configureStore, Action<CycleLockOptions>? configureLocks = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configureStore);
        // Per-setting rules are the options' data annotations (SettingsValidator), rules across settings their own validator.
        services.AddOptions<LeaseStoreOptions>().Configure(configureStore).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LeaseStoreOptions>>(new SettingsValidator<LeaseStoreOptions>(LeaseStoreOptions.Section)));
        var locks = services.AddOptions<CycleLockOptions>().ValidateOnStart();
        if (configureLocks is not null)
        {
            locks.Configure(configureLocks);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CycleLockOptions>>(new SettingsValidator<CycleLockOptions>(CycleLockOptions.Section)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CycleLockOptions>, CycleLockOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<DatabaseResilienceOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DatabaseResilienceOptions>>(new SettingsValidator<DatabaseResilienceOptions>(DatabaseResilienceOptions.Section)));
        services.TryAddSingleton(sp => LeaseStoreDataSource.Create(sp.GetRequiredService<IOptions<LeaseStoreOptions>>().Value));
        services.AddMetrics();
        services.TryAddSingleton<CycleLockMetrics>();
        services.TryAddSingleton<HeldLeases>();

        // Every client call checked before it runs: credentials and what each may do (CycleLock:Access).
        services.AddOptions<AccessOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AccessOptions>, AccessOptionsValidator>());
        services.TryAddSingleton<AccessPolicy>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IIncomingGrainCallFilter, AccessFilter>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutgoingGrainCallFilter, InternalTokenFilter>());

        // A lock's name checked before its activation is placed (and created): a bad name costs one short typed error.
        services.AddPlacementDirector<ValidatedNamePlacement, ValidatedNamePlacementDirector>();

        // The database pipeline in Polly's registry, with Polly's telemetry (the host's TelemetryOptions, our severities and tags).
        services.AddResiliencePipeline(DatabaseResilience.PipelineName, static (builder, context) => DatabaseResilience.ConfigurePipeline(
            builder,
            context.ServiceProvider.GetRequiredService<IOptions<DatabaseResilienceOptions>>().Value,
            context.ServiceProvider.GetRequiredService<IOptions<TelemetryOptions>>().Value));
        services.TryAddSingleton(sp => new DatabaseResilience(
            sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<IOptions<DatabaseResilienceOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<DatabaseResilience>>(),
            sp.GetRequiredService<IOptions<LeaseStoreOptions>>().Value.ServiceId ?? sp.GetService<IOptions<ClusterOptions>>()?.Value.ServiceId,
            sp.GetRequiredService<CycleLockMetrics>(),
            sp.GetRequiredService<ResiliencePipelineProvider<string>>().GetPipeline(DatabaseResilience.PipelineName)));
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<LeaseStoreOptions>>().Value;
            var serviceId = options.ServiceId ?? sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId;
            return new PostgresLeaseStore(sp.GetRequiredService<NpgsqlDataSource>(), serviceId, options, sp.GetRequiredService<DatabaseResilience>());
        });

        // Renewals and adoptions of every grain of the silo coalesced into one statement per flush (DESIGN §11).
        services.TryAddSingleton<ILeaseStore>(sp =>
        {
            var locks = sp.GetRequiredService<IOptions<CycleLockOptions>>().Value;
            var store = sp.GetRequiredService<PostgresLeaseStore>();
            return locks.CoalesceRenewals || locks.CoalesceChanges
                ? new CoalescingLeaseStore(store, locks, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<CoalescingLeaseStore>>(), sp.GetRequiredService<CycleLockMetrics>())
                : store;
        });
        // The operator console's reads, straight from the database (not through the coalescing store).
        services.TryAddSingleton<ILockCatalog>(sp => sp.GetRequiredService<PostgresLeaseStore>());
        services.AddHostedService<LeasePruner>();
        return services;
    }
}
