using Microsoft.Extensions.Options;

namespace CycleLock;

/// <summary>Options validation of a settings class's per-setting rules (its data annotations, read by
/// <see cref="SettingRules"/>), reported under the configuration section it binds from.</summary>
/// <param name="section">The configuration section, e.g. <c>CycleLock:Store</c>.</param>
public sealed class SettingsValidator<TOptions>(string section) : IValidateOptions<TOptions>
    where TOptions : class
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var failures = SettingRules.Check(options, section);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
