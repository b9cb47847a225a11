using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CycleLock.Client;

/// <summary>Attaches this client's credential (<see cref="CycleLockClientOptions.Credential"/>) to every grain call
/// it sends, in the request context the silo's access filter reads (and removes).</summary>
public sealed class CredentialCallFilter : IOutgoingGrainCallFilter
{
    private readonly Func<string?> _credential;

    /// <summary>A filter presenting the credential of the client's options.</summary>
    public CredentialCallFilter(IOptions<CycleLockClientOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _credential = () => options.Value.Credential;
    }

    /// <summary>A filter presenting <paramref name="credential"/> (<c>NAME:SECRET</c>).</summary>
    public CredentialCallFilter(string credential)
    {
        ArgumentException.ThrowIfNullOrEmpty(credential);
        _credential = () => credential;
    }

    /// <inheritdoc />
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (_credential() is { Length: > 0 } credential)
        {
            // Set in this async method's own context: the caller's request context is left as it was.
            RequestContext.Set(AccessContext.CredentialKey, credential);
        }

        await context.Invoke();
    }
}

/// <summary>Adds the credential filter to an Orleans client.</summary>
public static class CredentialClientBuilderExtensions
{
    /// <summary>Presents <see cref="CycleLockClientOptions.Credential"/> (or <paramref name="credential"/> when given) on
    /// every call (<see cref="CredentialCallFilter"/>). <c>AddCycleLockClient</c> calls it; call it yourself on an Orleans
    /// client you build without the SDK's registration.</summary>
    public static IClientBuilder AddCycleLockCredential(this IClientBuilder builder, string? credential = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (credential is not null)
        {
            builder.Services.AddSingleton<IOutgoingGrainCallFilter>(new CredentialCallFilter(credential));
        }
        else
        {
            builder.Services.AddOptions<CycleLockClientOptions>();
            builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutgoingGrainCallFilter, CredentialCallFilter>());
        }

        return builder;
    }
}
