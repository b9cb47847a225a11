using System.ComponentModel.DataAnnotations;
using System.Reflection;
using CycleLock.Client;
using CycleLock.Hosting;
using CycleLock.Leasing;
using CycleLock.Persistence;
using CycleLock.Resilience;
using CycleLock.Silo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CycleLock.Tests.Configuration;

/// <summary>One way to check settings: data annotations read by <see cref="SettingRules"/>, the same message on every path.</summary>
public sealed class SettingRulesTests
{
    private static readonly Type[] SettingsClasses =
    [
        typeof(CycleLockOptions), typeof(LeaseStoreOptions), typeof(DatabaseResilienceOptions),
        typeof(SiloHostOptions), typeof(WebOptions), typeof(CycleLockClientOptions),
    ];

    [Fact]
    public void EverySettingsClass_UsesOnlyRulesTheFormatterDescribes_AndNamesItsSection()
    {
        foreach (var type in SettingsClasses)
        {
            var section = (string?)type.GetField("Section", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue();
            Assert.True(section is not null && section.StartsWith("CycleLock:", StringComparison.Ordinal), $"{type.Name} has no Section constant");
            foreach (var property in type.GetProperties())
            {
                foreach (var rule in property.GetCustomAttributes<ValidationAttribute>())
                {
                    Assert.True(rule is RangeAttribute or StringLengthAttribute or AllowedValuesAttribute or RequiredAttribute,
                        $"{type.Name}.{property.Name} uses {rule.GetType().Name}, which SettingRules does not describe");
                }
            }
        }
    }

    [Fact]
    public void Check_NamesSectionKeyValueAndRule()
    {
        var silo = new SiloHostOptions { GatewayPort = 70000, Clustering = "Zookeeper", ServiceId = "", ProbeTimeout = TimeSpan.FromMilliseconds(100) };

        var failures = SettingRules.Check(silo, SiloHostOptions.Section);

        Assert.Contains("CycleLock:Silo:GatewayPort = 70000 is out of range (rule: 1 to 65535).", failures);
        Assert.Contains("CycleLock:Silo:Clustering = 'Zookeeper' is not valid (rule: Localhost or AdoNet).", failures);
        Assert.Contains("CycleLock:Silo:ProbeTimeout = 00:00:00.1 is out of range (rule: 00:00:00.5 to 00:01:00).", failures);
        Assert.Contains(failures, f => f.StartsWith("CycleLock:Silo:ServiceId = '' is not set", StringComparison.Ordinal));
        Assert.Equal(4, failures.Count);
    }

    [Fact]
    public void Defaults_PassEveryRule()
    {
        Assert.Empty(SettingRules.Check(new CycleLockOptions(), CycleLockOptions.Section));
        Assert.Empty(SettingRules.Check(new LeaseStoreOptions { ConnectionString = "Host=127.0.0.1" }, LeaseStoreOptions.Section));
        Assert.Empty(SettingRules.Check(new DatabaseResilienceOptions(), DatabaseResilienceOptions.Section));
        Assert.Empty(SettingRules.Check(new SiloHostOptions(), SiloHostOptions.Section));
        Assert.Empty(SettingRules.Check(new WebOptions(), WebOptions.Section));
        Assert.Empty(SettingRules.Check(new CycleLockClientOptions(), CycleLockClientOptions.Section));
    }

    [Fact]
    public void SiloServices_ReportAnnotationFailures_AsTheSameMessage()
    {
        var services = new ServiceCollection();
        services.AddCycleLockServices(store =>
        {
            store.ConnectionString = "Host=127.0.0.1";
            store.GrantLockTimeout = TimeSpan.Zero;
        });
        services.Configure<DatabaseResilienceOptions>(o => o.MaxConcurrentStatements = 0);
        using var provider = services.BuildServiceProvider();

        var store = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<LeaseStoreOptions>>().Value);
        var resilience = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<DatabaseResilienceOptions>>().Value);

        Assert.Contains("CycleLock:Store:GrantLockTimeout = 00:00:00 is out of range (rule: 00:00:00.01 to 00:00:10).", store.Message, StringComparison.Ordinal);
        Assert.Contains("CycleLock:Resilience:MaxConcurrentStatements = 0 is out of range (rule: 1 to 1000).", resilience.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClientConstructor_AndClientHost_GiveTheSameMessage()
    {
        var options = new CycleLockClientOptions { AcquireTries = 0, MarginFraction = 0.5 };

        var direct = Assert.Throws<ArgumentException>(() => CycleLockClientOptionsValidator.ThrowIfInvalid(options));
        var hosted = new SettingsValidator<CycleLockClientOptions>(CycleLockClientOptions.Section).Validate(null, options);

        const string Tries = "CycleLock:Client:AcquireTries = 0 is out of range (rule: 1 to 10).";
        const string Margin = "CycleLock:Client:MarginFraction = 0.5 is out of range (rule: 0 to 0.25).";
        Assert.Contains(Tries, direct.Message, StringComparison.Ordinal);
        Assert.Contains(Margin, direct.Message, StringComparison.Ordinal);
        Assert.True(hosted.Failed);
        Assert.Contains(Tries, hosted.Failures!);
        Assert.Contains(Margin, hosted.Failures!);
    }
}
