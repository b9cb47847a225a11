using Microsoft.Extensions.Options;

namespace CycleLock.Client;

/// <summary>Checks <see cref="CycleLockClientOptions"/>; each failure names the key, the value and the rule.</summary>
public sealed class CycleLockClientOptionsValidator : IValidateOptions<CycleLockClientOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, CycleLockClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = Check(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every failure, if any.</summary>
    public static void ThrowIfInvalid(CycleLockClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = Check(options);
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
            ? $"CycleLock:Client:{nameof(options.DefaultTtl)} = {options.DefaultTtl} is below the cluster's TTL floor {limits.Floor} " +
              $"(rule: DefaultTtl between {limits.Floor} and {limits.MaxTtl}; every acquire with it would be refused). Set it to at least {limits.Floor}, or lower the floor. " +
              limits.DescribeFloor()
            : null;
    }

    private static List<string> Check(CycleLockClientOptions o)
    {
        var failures = new List<string>();
        void Range<T>(string key, T value, T min, T max)
            where T : IComparable<T>
        {
            if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
            {
                failures.Add($"CycleLock:Client:{key} = {value} is out of range (rule: {min} to {max}).");
            }
        }

        try
        {
            RequestRules.Text(o.HolderLabel, RequestRules.MaxLabelLength, "Holder label", nameof(o.HolderLabel));
        }
        catch (ArgumentException e)
        {
            failures.Add($"CycleLock:Client:{nameof(o.HolderLabel)}: {e.Message}");
        }

        if (o.DefaultTtl <= TimeSpan.Zero || o.DefaultTtl > RequestRules.MaxTtl)
        {
            failures.Add($"CycleLock:Client:{nameof(o.DefaultTtl)} = {o.DefaultTtl} is out of range (rule: more than 0, at most {RequestRules.MaxTtl}; the cluster's floor is checked when the host starts).");
        }

        Range(nameof(o.AcquireCallTimeout), o.AcquireCallTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Range(nameof(o.AcquireTries), o.AcquireTries, 1, 10);
        Range(nameof(o.ReleaseCallTimeout), o.ReleaseCallTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Range(nameof(o.ReleaseTries), o.ReleaseTries, 1, 10);
        Range(nameof(o.MaxMovedRetries), o.MaxMovedRetries, 1, 1000);
        Range(nameof(o.MarginFraction), o.MarginFraction, 0.0, 0.25);
        Range(nameof(o.MarginBase), o.MarginBase, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        Range(nameof(o.HolderTimeoutFraction), o.HolderTimeoutFraction, 0.05, 0.95);
        return failures;
    }
}
