using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;

namespace CycleLock;

/// <summary>
/// The one way CycleLock checks a settings class: per-setting rules are standard data annotations on its
/// properties (<see cref="RangeAttribute"/>, <see cref="StringLengthAttribute"/>, <see cref="AllowedValuesAttribute"/>,
/// <see cref="RequiredAttribute"/>), read here and reported as <c>Section:Key = value is out of range (rule: …)</c>;
/// rules that span settings live in an <c>IValidateOptions</c> of the settings class. The same message whether the
/// settings reach a host through options validation (<see cref="SettingsValidator{TOptions}"/>) or a constructor.
/// </summary>
public static class SettingRules
{
    /// <summary>Every per-setting failure of <paramref name="settings"/>, each naming <paramref name="section"/>:key, the value and the rule.</summary>
    public static List<string> Check<TSettings>(TSettings settings, string section)
        where TSettings : class
    {
        ArgumentNullException.ThrowIfNull(settings);
        var failures = new List<string>();
        foreach (var property in typeof(TSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            foreach (var rule in property.GetCustomAttributes<ValidationAttribute>(inherit: true))
            {
                var value = property.GetValue(settings);
                if (!rule.IsValid(value))
                {
                    failures.Add($"{section}:{property.Name} = {Show(value)} {Describe(rule)}");
                    break;
                }
            }
        }

        return failures;
    }

    /// <summary>A value as the configuration would spell it (strings quoted, times as <c>hh:mm:ss</c>).</summary>
    public static string Show(object? value) => value switch
    {
        null => "(not set)",
        string s => $"'{s}'",
        TimeSpan t => Time(t),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    // 00:00:00.5 rather than 00:00:00.5000000: the configuration's own spelling, no trailing zeros.
    private static string Time(TimeSpan t)
    {
        var text = t.ToString("c", CultureInfo.InvariantCulture);
        return text.Contains('.', StringComparison.Ordinal) && t.Ticks % TimeSpan.TicksPerSecond != 0 ? text.TrimEnd('0') : text;
    }

    private static string Describe(ValidationAttribute rule) => rule switch
    {
        RangeAttribute r => $"is out of range (rule: {Bound(r.Minimum)} to {Bound(r.Maximum)}).",
        StringLengthAttribute s => $"is not valid (rule: {s.MinimumLength} to {s.MaximumLength} characters).",
        AllowedValuesAttribute a => $"is not valid (rule: {string.Join(" or ", a.Values)}).",
        RequiredAttribute => "is not set (rule: required).",
        _ => $"is not valid (rule: {rule.FormatErrorMessage("the value")}).",
    };

    private static string Bound(object bound) => bound switch
    {
        double d => d.ToString("0.###", CultureInfo.InvariantCulture),
        string s => s, // not yet converted by the attribute
        _ => Show(bound),
    };
}
