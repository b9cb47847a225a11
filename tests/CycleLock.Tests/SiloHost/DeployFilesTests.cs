using System.Globalization;
using System.Reflection;
using CycleLock.Client;
using CycleLock.Leasing;
using CycleLock.Persistence;
using CycleLock.Resilience;
using CycleLock.Security;
using CycleLock.Silo;
using CycleLock.Testing;
using Microsoft.Extensions.Configuration;
using YamlDotNet.RepresentationModel;

namespace CycleLock.Tests.SiloHost;

/// <summary>
/// The deploy files cannot run here (no systemd, Kubernetes or Docker): their settings are checked against
/// the options classes and the silo program — every environment key names a real option, ports agree
/// between the silo's settings and the files' port lists, names and references resolve.
/// </summary>
public sealed class DeployFilesTests
{
    private static readonly Dictionary<string, Type> Sections = new(StringComparer.Ordinal)
    {
        ["Silo"] = typeof(SiloHostOptions),
        ["Web"] = typeof(WebOptions),
        ["Locks"] = typeof(CycleLockOptions),
        ["Store"] = typeof(LeaseStoreOptions),
        ["Resilience"] = typeof(DatabaseResilienceOptions),
        ["Client"] = typeof(CycleLockClientOptions),
        ["Access"] = typeof(AccessOptions),
        ["Tls"] = typeof(CycleLockTlsOptions),
    };

    private static string Deploy(string path) => Path.Combine(BuildOutput.Root, "deploy", path);

    /// <summary>Checks one environment setting: the key names an option of the silo, the value converts.</summary>
    private static void CheckSetting(string file, string key, string value)
    {
        if (!key.StartsWith("CycleLock__", StringComparison.Ordinal))
        {
            Assert.Contains(key, new[] { "DOTNET_gcServer", "ORLEANS_SERVICE_ID", "ORLEANS_CLUSTER_ID", "POD_NAMESPACE", "POD_NAME", "POD_IP", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "CYCLELOCK_OWNER_PASSWORD", "CYCLELOCK_SILO_PASSWORD" });
            return;
        }

        var parts = key.Split("__");
        if (parts is [_, "ConnectionString"])
        {
            Assert.Contains("Host=", value, StringComparison.Ordinal);
            return;
        }

        if (parts is [_, "Access", "Credentials", _, var setting, ..])
        {
            Assert.True(typeof(CredentialOptions).GetProperty(setting) is { CanWrite: true }, $"{file}: {key}: a credential has no setting {setting}");
            return;
        }

        Assert.True(parts.Length == 3 && Sections.TryGetValue(parts[1], out _), $"{file}: {key} is not a CycleLock setting (sections: {string.Join(", ", Sections.Keys)})");
        var property = Sections[parts[1]].GetProperty(parts[2], BindingFlags.Public | BindingFlags.Instance);
        Assert.True(property is { CanWrite: true }, $"{file}: {key}: {Sections[parts[1]].Name} has no settable property {parts[2]}");
        if (value.StartsWith("valueFrom:", StringComparison.Ordinal))
        {
            return;
        }

        var type = Nullable.GetUnderlyingType(property!.PropertyType) ?? property.PropertyType;
        var converted = System.ComponentModel.TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
        Assert.NotNull(converted);
    }

    private static SiloHostOptions Silo(IReadOnlyDictionary<string, string> env)
    {
        var silo = new SiloHostOptions();
        foreach (var (key, value) in env.Where(e => e.Key.StartsWith("CycleLock__Silo__", StringComparison.Ordinal)))
        {
            var property = typeof(SiloHostOptions).GetProperty(key["CycleLock__Silo__".Length..])!;
            if (!value.StartsWith("valueFrom:", StringComparison.Ordinal))
            {
                property.SetValue(silo, System.ComponentModel.TypeDescriptor.GetConverter(property.PropertyType).ConvertFromInvariantString(value));
            }
        }

        return silo;
    }

    // Checks a deployment's settings as the silo host does: as shipped, its change-me placeholders stop the start;
    // once an operator replaced each with a real value, the settings pass.
    private static void Validate(IReadOnlyDictionary<string, string> env)
    {
        var shipped = Assert.Throws<SiloConfigurationException>(() => ValidateOnce(env));
        Assert.Contains("placeholder", shipped.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("change-me\"", shipped.Message.Replace("'change-me'", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        ValidateOnce(env.ToDictionary(e => e.Key, e => e.Value.Replace("change-me", Guid.NewGuid().ToString("N"), StringComparison.Ordinal)));
    }

    // The TLS files a deployment names (silo.crt, silo.key, ca.crt) are looked up here instead: a local set the silo
    // program's tls-certs writes, so the validator loads and checks real certificates of those names.
    private static readonly Lazy<string> TlsFiles = new(() =>
    {
        var directory = Directory.CreateTempSubdirectory("cyclelock-deploy-tls-").FullName;
        DevCertificates.WriteLocalSet(directory, days: 1);
        return directory;
    });

    private static void ValidateOnce(IReadOnlyDictionary<string, string> env)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(env
            .Where(e => e.Key.StartsWith("CycleLock__", StringComparison.Ordinal) && !e.Value.StartsWith("valueFrom:", StringComparison.Ordinal))
            .Select(e => new KeyValuePair<string, string?>(
                e.Key.Replace("__", ":", StringComparison.Ordinal),
                e.Key.StartsWith("CycleLock__Tls__", StringComparison.Ordinal) && e.Key.EndsWith("File", StringComparison.Ordinal) ? Path.Combine(TlsFiles.Value, Path.GetFileName(e.Value)) : e.Value))).Build();
        var (silo, web, access, tls) = (new SiloHostOptions(), new WebOptions(), new AccessOptions(), new CycleLockTlsOptions());
        configuration.GetSection(SiloHostOptions.Section).Bind(silo);
        configuration.GetSection(WebOptions.Section).Bind(web);
        configuration.GetSection(AccessOptions.Section).Bind(access);
        configuration.GetSection(CycleLockTlsOptions.SiloSection).Bind(tls);
        SiloHostOptionsValidator.ThrowIfInvalid(silo, web, configuration["CycleLock:ConnectionString"], access, tls);
    }

    private static int WebPort(IReadOnlyDictionary<string, string> env) => new Uri(env.GetValueOrDefault("CycleLock__Web__Url", new WebOptions().Url)).Port;

    [Fact]
    public void Systemd_UnitAndEnvironmentExample_NameRealSettings_RunTheSiloProgram()
    {
        var unit = File.ReadAllLines(Deploy("systemd/cyclelock-silo.service"));
        Assert.Contains(unit, l => l.StartsWith("#", StringComparison.Ordinal) && l.Contains("UNTESTED HERE", StringComparison.Ordinal));
        var exec = unit.Single(l => l.StartsWith("ExecStart=", StringComparison.Ordinal));
        Assert.EndsWith("/" + typeof(SiloHostOptions).Assembly.GetName().Name + ".dll", exec, StringComparison.Ordinal);
        var env = unit.Where(l => l.StartsWith("Environment=", StringComparison.Ordinal))
            .Select(l => l["Environment=".Length..].Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var example = File.ReadAllLines(Deploy("systemd/cyclelock-silo.env.example"))
            .Select(l => l.TrimStart('#', ' ')).Where(l => l.StartsWith("CycleLock__", StringComparison.Ordinal))
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        foreach (var (key, value) in env.Concat(example))
        {
            CheckSetting("cyclelock-silo.service", key, value);
        }

        Assert.Equal("AdoNet", env["CycleLock__Silo__Clustering"]);
        Assert.Contains("CycleLock__ConnectionString", example.Keys);
        Assert.Equal(WebOptions.DefaultLoopbackPort, WebPort(env)); // loopback unless a password is configured
        var active = File.ReadAllLines(Deploy("systemd/cyclelock-silo.env.example"))
            .Where(l => l.StartsWith("CycleLock__", StringComparison.Ordinal)).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Validate(active.Concat(env).ToDictionary(e => e.Key, e => e.Value));
    }

    [Fact]
    public void Kubernetes_Manifests_AgreeWithEachOtherAndWithTheSiloOptions()
    {
        var docs = new[] { "configmap.yaml", "secret.yaml", "deployment.yaml", "service.yaml", "migrate-job.yaml" }
            .SelectMany(f => Load(Deploy("kubernetes/" + f)).Select(d => (File: f, Doc: d)))
            .ToList();
        Assert.All(new[] { "configmap.yaml", "secret.yaml", "deployment.yaml", "service.yaml", "migrate-job.yaml" }, f =>
            Assert.Contains("UNTESTED HERE", File.ReadAllText(Deploy("kubernetes/" + f)), StringComparison.Ordinal));
        YamlMappingNode Kind(string kind) => docs.Single(d => S(d.Doc, "kind") == kind).Doc;

        var config = Kind("ConfigMap");
        var secret = docs.Single(d => S(d.Doc, "kind") == "Secret" && S(d.Doc, "metadata", "name") == "cyclelock-silo").Doc;
        var migrateSecret = docs.Single(d => S(d.Doc, "kind") == "Secret" && S(d.Doc, "metadata", "name") == "cyclelock-migrate").Doc;
        var deployment = Kind("Deployment");
        var service = Kind("Service");
        var settings = Map(config, "data").Concat(Map(secret, "stringData")).ToDictionary(e => e.Key, e => e.Value);
        var container = (YamlMappingNode)((YamlSequenceNode)Node(deployment, "spec", "template", "spec", "containers"))[0];
        foreach (YamlMappingNode env in ((YamlSequenceNode)container.Children[new YamlScalarNode("env")]).Cast<YamlMappingNode>())
        {
            settings[S(env, "name")!] = env.Children.ContainsKey(new YamlScalarNode("valueFrom")) ? "valueFrom: field" : S(env, "value")!;
        }

        foreach (var (key, value) in settings)
        {
            CheckSetting("kubernetes", key, value);
        }

        // envFrom names the ConfigMap and the Secret.
        var envFrom = ((YamlSequenceNode)container.Children[new YamlScalarNode("envFrom")]).Cast<YamlMappingNode>().ToList();
        Assert.Contains(envFrom, e => S(e, "configMapRef", "name") == S(config, "metadata", "name"));
        Assert.Contains(envFrom, e => S(e, "secretRef", "name") == S(secret, "metadata", "name"));

        // Ports: the container exposes the configured silo, gateway and web ports; the Service targets them by name.
        var silo = Silo(settings);
        var ports = ((YamlSequenceNode)container.Children[new YamlScalarNode("ports")]).Cast<YamlMappingNode>()
            .ToDictionary(p => S(p, "name")!, p => int.Parse(S(p, "containerPort")!, CultureInfo.InvariantCulture));
        Assert.Equal(silo.SiloPort, ports["silo"]);
        Assert.Equal(silo.GatewayPort, ports["gateway"]);
        Assert.Equal(WebPort(settings), ports["web"]);
        foreach (YamlMappingNode port in ((YamlSequenceNode)Node(service, "spec", "ports")).Cast<YamlMappingNode>())
        {
            Assert.Contains(S(port, "targetPort")!, ports.Keys);
        }

        // Selectors and labels line up; Orleans' Kubernetes hosting reads the serviceId/clusterId labels.
        var labels = Map((YamlMappingNode)Node(deployment, "spec", "template", "metadata"), "labels");
        Assert.Equal(labels["app"], Map((YamlMappingNode)Node(deployment, "spec", "selector"), "matchLabels")["app"]);
        Assert.Equal(labels["app"], Map((YamlMappingNode)Node(service, "spec"), "selector")["app"]);
        Assert.Contains("orleans/serviceId", labels.Keys);
        Assert.Contains("orleans/clusterId", labels.Keys);
        Assert.Equal("true", settings["CycleLock__Silo__Kubernetes"]);
        Assert.Equal("/health", S((YamlMappingNode)container.Children[new YamlScalarNode("readinessProbe")], "httpGet", "path"));
        Assert.Equal("/health/live", S((YamlMappingNode)container.Children[new YamlScalarNode("livenessProbe")], "httpGet", "path"));
        Validate(settings);

        // The schema job runs the silo program's migrate mode with the same Secret.
        var job = Kind("Job");
        var migrate = (YamlMappingNode)((YamlSequenceNode)Node(job, "spec", "template", "spec", "containers"))[0];
        Assert.Equal("migrate", ((YamlScalarNode)((YamlSequenceNode)migrate.Children[new YamlScalarNode("args")])[0]).Value);
        Assert.Equal(S(container, "image"), S(migrate, "image"));
        Assert.Equal(S(migrateSecret, "metadata", "name"), S((YamlMappingNode)((YamlSequenceNode)migrate.Children[new YamlScalarNode("envFrom")])[0], "secretRef", "name"));

        // Two roles, neither a superuser: the owner migrates and grants the silos' runtime role only what silos use.
        Assert.Contains("Username=cyclelock_silo;", Map(secret, "stringData")["CycleLock__ConnectionString"], StringComparison.Ordinal);
        Assert.Contains("Username=cyclelock_owner;", Map(migrateSecret, "stringData")["CycleLock__ConnectionString"], StringComparison.Ordinal);
        Assert.Equal(["migrate", "--runtime-role", "cyclelock_silo"], ((YamlSequenceNode)migrate.Children[new YamlScalarNode("args")]).Select(n => ((YamlScalarNode)n).Value!));
    }

    [Fact]
    public void Compose_TwoSilosAndPostgres_SettingsAndPortsAgree()
    {
        var text = File.ReadAllText(Deploy("compose.yaml"));
        Assert.Contains("UNTESTED HERE", text, StringComparison.Ordinal);
        var root = Load(Deploy("compose.yaml")).Single();
        var services = (YamlMappingNode)root.Children[new YamlScalarNode("services")];
        var names = services.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToHashSet();
        Assert.Contains("postgres", names);
        Assert.Contains("migrate", names);
        var silos = names.Where(n => n.StartsWith("silo", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, silos.Count);
        foreach (var name in silos)
        {
            var silo = (YamlMappingNode)services.Children[new YamlScalarNode(name)];
            var env = Environment(silo);
            foreach (var (key, value) in env)
            {
                CheckSetting("compose.yaml", key, value);
            }

            var options = Silo(env);
            var published = ((YamlSequenceNode)silo.Children[new YamlScalarNode("ports")]).Select(p => ((YamlScalarNode)p).Value!).ToList();
            Assert.Contains(published, p => p.StartsWith("127.0.0.1:", StringComparison.Ordinal) && p.EndsWith(":" + options.GatewayPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
            Assert.Contains(published, p => p.EndsWith(":" + WebPort(env).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
            foreach (var dependency in ((YamlMappingNode)silo.Children[new YamlScalarNode("depends_on")]).Children.Keys)
            {
                Assert.Contains(((YamlScalarNode)dependency).Value!, names);
            }

            Validate(env);
        }

        var migrate = (YamlMappingNode)services.Children[new YamlScalarNode("migrate")];
        Assert.Equal(["migrate", "--runtime-role", "cyclelock_silo"], ((YamlSequenceNode)migrate.Children[new YamlScalarNode("command")]).Select(n => ((YamlScalarNode)n).Value!));

        // The owner migrates; the silos log in as the runtime role the roles script creates, neither a superuser.
        Assert.Contains("Username=cyclelock_owner;", Environment(migrate)["CycleLock__ConnectionString"], StringComparison.Ordinal);
        Assert.All(silos, n => Assert.Contains("Username=cyclelock_silo;", Environment((YamlMappingNode)services.Children[new YamlScalarNode(n)])["CycleLock__ConnectionString"], StringComparison.Ordinal));
        var roles = File.ReadAllText(Deploy("postgres-roles.sh"));
        Assert.Contains("CREATE ROLE cyclelock_owner LOGIN CREATEROLE NOSUPERUSER", roles, StringComparison.Ordinal);
        Assert.Contains("CREATE ROLE cyclelock_silo LOGIN NOSUPERUSER", roles, StringComparison.Ordinal);
    }

    private static Dictionary<string, string> Environment(YamlMappingNode service)
    {
        var env = new Dictionary<string, string>();
        var node = (YamlMappingNode)service.Children[new YamlScalarNode("environment")];
        foreach (var (key, value) in node.Children)
        {
            var name = ((YamlScalarNode)key).Value!;
            if (name == "<<" && value is YamlMappingNode merged)
            {
                foreach (var (k, v) in merged.Children)
                {
                    env.TryAdd(((YamlScalarNode)k).Value!, ((YamlScalarNode)v).Value!);
                }
            }
            else
            {
                env[name] = ((YamlScalarNode)value).Value!;
            }
        }

        return env;
    }

    private static List<YamlMappingNode> Load(string path)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(path));
        stream.Load(reader);
        return [.. stream.Documents.Select(d => (YamlMappingNode)d.RootNode)];
    }

    private static YamlNode Node(YamlMappingNode node, params string[] path) =>
        Find(node, path) ?? throw new KeyNotFoundException($"no {string.Join(".", path)}");

    private static YamlNode? Find(YamlMappingNode node, params string[] path)
    {
        YamlNode? current = node;
        foreach (var step in path)
        {
            if (current is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(step), out current))
            {
                return null;
            }
        }

        return current;
    }

    private static string? S(YamlMappingNode node, params string[] path) => (Find(node, path) as YamlScalarNode)?.Value;

    private static Dictionary<string, string> Map(YamlMappingNode node, string key) =>
        ((YamlMappingNode)node.Children[new YamlScalarNode(key)]).Children.ToDictionary(e => ((YamlScalarNode)e.Key).Value!, e => ((YamlScalarNode)e.Value).Value!);
}
