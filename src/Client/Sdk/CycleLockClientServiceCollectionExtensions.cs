using CycleLock;
using CycleLock.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the worker SDK over the Orleans client.</summary>
public static class CycleLockClientServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Orleans client (configured by <paramref name="configureOrleans"/>, e.g.
    /// <c>c =&gt; c.UseLocalhostClustering()</c>) and a singleton <see cref="CycleLockClient"/> with
    /// <see cref="CycleLockClientOptions"/> (bound from configuration section <c>CycleLock:Client</c>, then
    /// <paramref name="configure"/>), validated when the host starts: a bad value stops the start with a
    /// message naming the key. Once the Orleans client is connected the start reads the cluster's TTL limits
    /// (<see cref="CycleLockClient.Limits"/>) and stops with an <see cref="OptionsValidationException"/> when
    /// <see cref="CycleLockClientOptions.DefaultTtl"/> is below the floor, naming the floor and the settings
    /// that set it; from then on an acquire below the floor throws before anything is sent.
    /// </summary>
    public static IHostApplicationBuilder AddCycleLockClient(this IHostApplicationBuilder builder, Action<IClientBuilder> configureOrleans, Action<CycleLockClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configureOrleans);
        var tls = new CycleLockTlsOptions();
        builder.Configuration.GetSection(CycleLockTlsOptions.ClientSection).Bind(tls);
        builder.UseOrleansClient(client =>
        {
            configureOrleans(client);
            client.AddCycleLockCredential();
            if (tls.Enabled)
            {
                // Mutual TLS from CycleLock:Client:Tls (CertificateFile, KeyFile, CaFile): checked here, before any connection.
                client.UseCycleLockTls(tls);
            }
        });
        builder.Services.AddOptions<CycleLockClientOptions>().BindConfiguration(CycleLockClientOptions.Section);
        AddSdk(builder.Services, configure);
        return builder;
    }

    /// <summary>The same as the host-builder overload, on a service collection.</summary>
    public static IServiceCollection AddCycleLockClient(this IServiceCollection services, Action<IClientBuilder> configureOrleans, Action<CycleLockClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configureOrleans);
        services.AddOrleansClient(client =>
        {
            configureOrleans(client);
            client.AddCycleLockCredential();
        });
        AddSdk(services, configure);
        return services;
    }

    private static void AddSdk(IServiceCollection services, Action<CycleLockClientOptions>? configure)
    {
        var options = services.AddOptions<CycleLockClientOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CycleLockClientOptions>>(new CycleLock.SettingsValidator<CycleLockClientOptions>(CycleLockClientOptions.Section)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CycleLockClientOptions>, CycleLockClientOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new CycleLockClient(
            sp.GetRequiredService<IClusterClient>(),
            sp.GetRequiredService<IOptions<CycleLockClientOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger<CycleLockClient>()));

        // After the Orleans client's own hosted service (registered above): hosted services start in order.
        services.AddHostedService<CycleLockClientStartup>();
    }
}
