using Microsoft.Extensions.Options;

namespace CycleLock.Security;

/// <summary>Checks <see cref="AccessOptions"/>: names, roles, prefixes, and secrets (length, no placeholder) —
/// never echoing a secret.</summary>
public sealed class AccessOptionsValidator : IValidateOptions<AccessOptions>
{
    /// <summary>Secrets shorter than this are refused.</summary>
    public const int MinSecretLength = 16;

    /// <summary>Secrets longer than this are refused.</summary>
    public const int MaxSecretLength = 1024;

    /// <summary>The longest credential name.</summary>
    public const int MaxNameLength = AccessContext.MaxCredentialNameLength;

    // Placeholders deploy files and samples use: a secret containing one was never changed.
    private static readonly string[] Placeholders = ["change-me", "changeme", "change_me", "placeholder", "replace-me", "replaceme", "example", "password", "secret"];

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, AccessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach (var (credential, settings) in options.Credentials)
        {
            var key = $"{AccessOptions.Section}:Credentials:{credential}";
            if (!IsValidName(credential))
            {
                failures.Add($"{AccessOptions.Section}:Credentials has a credential named {LockName.Quote(credential)} (rule: 1 to {MaxNameLength} letters, digits, '.', '_' or '-').");
                continue;
            }

            if (settings is null)
            {
                failures.Add($"{key} is empty (rule: a Secret and a Role).");
                continue;
            }

            if (SecretProblem(settings.Secret) is { } problem)
            {
                failures.Add($"{key}:Secret {problem}");
            }

            if (settings.Role is not (AccessRoles.Worker or AccessRoles.Operator))
            {
                failures.Add($"{key}:Role = {LockName.Quote(settings.Role ?? string.Empty)} is not allowed (rule: one of Worker, Operator).");
            }
            else if (settings.Role == AccessRoles.Worker)
            {
                if (settings.Prefixes is not { Count: > 0 })
                {
                    failures.Add($"{key}:Prefixes is empty (rule: a worker names at least one prefix, e.g. billing/* or *).");
                }
                else
                {
                    for (var i = 0; i < settings.Prefixes.Count; i++)
                    {
                        if (NamePattern.Problem(settings.Prefixes[i]) is { } bad)
                        {
                            failures.Add($"{key}:Prefixes:{i} = {LockName.Quote(settings.Prefixes[i] ?? string.Empty)} {bad}");
                        }
                    }
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>What is wrong with a secret (without showing it), or null.</summary>
    public static string? SecretProblem(string? secret, int minLength = MinSecretLength)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return $"is not set (rule: {minLength} to {MaxSecretLength} characters).";
        }

        if (secret.Length < minLength || secret.Length > MaxSecretLength)
        {
            return $"has {secret.Length} characters (rule: {minLength} to {MaxSecretLength} characters; the value is not shown).";
        }

        return PlaceholderIn(secret) is { } placeholder
            ? $"is a placeholder (rule: nothing containing '{placeholder}'; generate a value, e.g. openssl rand -base64 32; the value is not shown)."
            : null;
    }

    /// <summary>The placeholder word <paramref name="value"/> contains (<c>change-me</c> and the like), or null.</summary>
    public static string? PlaceholderIn(string value) =>
        Placeholders.FirstOrDefault(p => value.Contains(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether <paramref name="credential"/> is a valid credential name (<see cref="AccessContext.IsCredentialName"/>).</summary>
    public static bool IsValidName(string? credential) => AccessContext.IsCredentialName(credential);
}
