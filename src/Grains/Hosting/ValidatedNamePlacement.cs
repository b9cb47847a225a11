using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace CycleLock.Hosting;

/// <summary>
/// The placement of a lock's activation: the silo's default strategy, once the grain key (the lock's name) passed
/// the lock-name rules. Placement runs on the silo a call arrives at, before any activation exists — so a bad name
/// (too long, not NFC, invisible or control characters, U+FFFD) costs one short <see cref="ArgumentException"/>
/// and no activation, instead of an activation created, logged with the whole key, and then refused.
/// </summary>
[GenerateSerializer]
[Immutable]
[Alias("CycleLock.ValidatedNamePlacement")]
public sealed class ValidatedNamePlacement : PlacementStrategy
{
    internal static readonly ValidatedNamePlacement Instance = new();
}

/// <summary>Places <see cref="CycleLockGrain"/> activations with <see cref="ValidatedNamePlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ValidatedNamePlacementAttribute() : PlacementAttribute(ValidatedNamePlacement.Instance);

/// <summary>Refuses a bad lock name before placement, else places as the silo's default strategy does.</summary>
internal sealed partial class ValidatedNamePlacementDirector(IServiceProvider services, CycleLockMetrics metrics, ILogger<ValidatedNamePlacementDirector> logger) : IPlacementDirector
{
    private readonly Lazy<(PlacementStrategy Strategy, IPlacementDirector Director)> _default = new(() =>
    {
        var strategy = services.GetRequiredService<PlacementStrategy>();
        return (strategy, services.GetRequiredKeyedService<IPlacementDirector>(strategy.GetType()));
    });

    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString();
        try
        {
            if (LockName.Normalize(key) != key)
            {
                throw new ArgumentException($"Lock name {LockName.Quote(key)} is not NFC-normalised (rule: grain keys are LockName.Normalize(name)).", "name");
            }
        }
        catch (ArgumentException e)
        {
            metrics.AccessDenied("invalid-name");
            LogRefused(logger, LockName.Quote(key), key.Length);

            // Never thrown (no stack trace reaches the client). Its innermost exception is a KeyNotFoundException, the
            // kind Orleans does not log with the whole message (the message holds the key: up to the header limit).
            return Task.FromException<SiloAddress>(new ArgumentException(e.Message, "name", new KeyNotFoundException("The lock name was refused before placement.")));
        }

        var (defaultStrategy, director) = _default.Value;
        return director.OnAddActivation(defaultStrategy, target, context);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused lock name {Name} ({Length} characters) before placement")]
    private static partial void LogRefused(ILogger logger, string name, int length);
}
