using Microsoft.Extensions.Options;

namespace CycleLock.Client;

/// <summary>The rules of <see cref="CycleLockClientOptions"/> beyond its data annotations (the holder label's text rules, the
/// cluster's TTL floor); <see cref="ThrowIfInvalid"/> checks both. Each failure names the key, the value and the rule.</summary>
public sealed class CycleLockClientOptionsValidator : IValidateOptions<CycleLockClientOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, CycleLockClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = Check(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every failure (data annotations and the rest), if any.</summary>
    public static void ThrowIfInvalid(CycleLockClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = SettingRules.Check(options, CycleLockClientOptions.Section);
        failures.AddRange(Check(options));
        if (failures.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", failures), nameof(options));
        }
    }

    /// <summary>Checks the options against a deployment's <paramref name="limits"/>: null when they fit, else
    /// the failure, naming the key, the value, the floor, what sets the floor and how to lower it.</summary>
    public static string? CheckAgainst(CycleLockClientOptions options, LockLimits limits)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(limits);
        return options.DefaultTtl < limits.Floor
            ? $"{CycleLockClientOptions.Section}:{nameof(options.DefaultTtl)} = {options.DefaultTtl} is below the cluster's TTL floor {limits.Floor} " +
              $"(rule: DefaultTtl between {limits.Floor} and {limits.MaxTtl}; every acquire with it would be refused). Set it to at least {limits.Floor}, or lower the floor. " +
              limits.DescribeFloor()
            : null;
    }

    private static List<string> Check(CycleLockClientOptions o)
    {
        var failures = new List<string>();
        try
        {
            RequestRules.Text(o.HolderLabel, RequestRules.MaxLabelLength, "Holder label", nameof(o.HolderLabel));
        }
        catch (ArgumentException e)
        {
            failures.Add($"{CycleLockClientOptions.Section}:{nameof(o.HolderLabel)}: {e.Message}");
        }

        if (o.Credential is { } credential && CredentialProblem(credential) is { } problem)
        {
            failures.Add($"{CycleLockClientOptions.Section}:{nameof(o.Credential)} {problem}");
        }

        return failures;
    }

    /// <summary>What is wrong with a credential (without showing its secret), or null.</summary>
    public static string? CredentialProblem(string credential)
    {
        ArgumentNullException.ThrowIfNull(credential);
        var colon = credential.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == credential.Length - 1)
        {
            return "is not NAME:SECRET (rule: a credential name, a colon, then its secret; the value is not shown).";
        }

        return !AccessContext.IsCredentialName(credential.AsSpan(0, colon))
            ? "has a name that is not 1 to 64 letters, digits, '.', '_' or '-' (rule: NAME:SECRET; the value is not shown)."
            : null;
    }
}
