using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;
using CycleLock.Testing;
using CycleLock.Tests.SiloHost;

namespace CycleLock.Tests.Adoption;

/// <summary>
/// What a team installs: every shipped package packed into a temporary folder feed (at a version of its own, so no
/// cached copy stands in for it), checked for what a package must carry, and the quick-start sample — which
/// references the packages, never the projects — restored from that feed, built and run against a silo; the CLI
/// installed as a .NET tool from the same feed and run against it.
/// </summary>
[Collection(HostCollection.Name)]
public sealed class PackageTests(SiloHostFixture fixture)
{
    private static readonly string[] Libraries =
    [
        "src/Grains.Interfaces/CycleLock.Grains.Interfaces.csproj",
        "src/Client/Sdk/CycleLock.Client.csproj",
        "src/Client/DistributedLock/CycleLock.DistributedLock.csproj",
        "src/Client/Guard/CycleLock.Client.Guard.csproj",
        "src/Grains/CycleLock.Grains.csproj",
    ];

    private const string Tool = "src/Client/Cli/CycleLock.Cli.csproj";

    [Fact]
    public async Task ThePackages_PackIntoAFolderFeed_AndTheQuickstartSample_BuiltFromThemAlone_AcquiresRunsLosesAndReleases()
    {
        var version = "0.17.0-t" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..6];
        var work = Directory.CreateTempSubdirectory("cyclelock-packages-").FullName;
        var feed = Path.Combine(work, "feed");
        try
        {
            // Pack what the suite's build produced (no second build of a project whose assemblies are loaded here).
            foreach (var project in Libraries.Append(Tool))
            {
                await Tools.RunAsync("dotnet", ["pack", Path.Combine(BuildOutput.Root, project), "-c", BuildOutput.Configuration, "--no-build", "-o", feed, $"-p:Version={version}", "-nologo", "-v", "q"], timeout: TimeSpan.FromMinutes(3));
            }

            foreach (var project in Libraries)
            {
                CheckLibraryPackage(feed, Path.GetFileNameWithoutExtension(project), version);
            }

            CheckToolPackage(feed, version);

            // The sample as a consumer has it: its folder alone (no repository build settings above it).
            var samples = Path.Combine(work, "samples");
            CopySample(Path.Combine(BuildOutput.Root, "samples"), samples);
            var build = await Tools.RunAsync(
                "dotnet",
                ["build", Path.Combine(samples, "Quickstart"), "-c", "Release", $"-p:CycleLockVersion={version}", $"-p:RestoreAdditionalProjectSources={feed}", "-nologo", "-v", "q"],
                throwOnError: false,
                timeout: TimeSpan.FromMinutes(5));
            Assert.True(build.ExitCode == 0, $"the sample did not build from the packages: {build.StandardOutput}{build.StandardError}");
            using (var assets = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(samples, "Quickstart", "obj", "project.assets.json"))))
            {
                var libraries = assets.RootElement.GetProperty("libraries");
                Assert.Equal("package", libraries.GetProperty($"CycleLock.Client/{version}").GetProperty("type").GetString());
                Assert.Equal("package", libraries.GetProperty($"CycleLock.DistributedLock/{version}").GetProperty("type").GetString());
                Assert.DoesNotContain(libraries.EnumerateObject(), l => l.Value.GetProperty("type").GetString() == "project");
            }

            var prefix = "cli-quickstart-" + Guid.NewGuid().ToString("N")[..8];
            var run = await Tools.RunAsync(
                "dotnet",
                [Path.Combine(samples, "Quickstart", "bin", "Release", "net10.0", "Quickstart.dll"),
                    $"--Cluster:GatewayPort={fixture.Silo.GatewayPort.ToString(CultureInfo.InvariantCulture)}", $"--Cluster:ServiceId={fixture.ServiceId}", "--Cluster:ClusterId=test",
                    "--Sample:TtlSeconds=5", $"--Sample:Prefix={prefix}"],
                throwOnError: false,
                environment: new Dictionary<string, string> { ["CycleLock__Client__Credential"] = SiloHostFixture.OperatorCredential },
                timeout: TimeSpan.FromMinutes(2));
            var output = run.StandardOutput + run.StandardError;
            TestContext.Current.SendDiagnosticMessage("quickstart:\n" + output);
            Assert.True(run.ExitCode == 0, $"the sample exited {run.ExitCode}: {output}");
            Assert.Matches($@"acquired {prefix}/nightly-report epoch \d+\nran {prefix}/nightly-report epoch \d+\nreleased {prefix}/nightly-report: Free\n", output.ReplaceLineEndings("\n"));
            Assert.Matches($@"acquired {prefix}/invoices epoch (\d+)\nforce-release {prefix}/invoices: Released\nlost {prefix}/invoices epoch \d+: .*force-released", output.ReplaceLineEndings("\n"));
            Assert.EndsWith("done", run.StandardOutput.TrimEnd(), StringComparison.Ordinal);

            // What the sample did is in the cluster's history, recorded by the silo.
            var history = await fixture.Locks.HistoryAsync($"{prefix}/invoices");
            Assert.Contains(history, h => h.Event == "force-released");

            // The CLI as a .NET tool, from the same feed.
            var tools = Path.Combine(work, "tools");
            await Tools.RunAsync("dotnet", ["tool", "install", "CycleLock.Cli", "--version", version, "--add-source", feed, "--tool-path", tools], timeout: TimeSpan.FromMinutes(3));
            var inspect = await Tools.RunAsync(
                Path.Combine(tools, "cyclelock"),
                ["inspect", $"{prefix}/nightly-report", "--gateway", fixture.Silo.GatewayPort.ToString(CultureInfo.InvariantCulture), "--service-id", fixture.ServiceId, "--cluster-id", "test"],
                throwOnError: false,
                environment: new Dictionary<string, string> { ["CYCLELOCK_CREDENTIAL"] = SiloHostFixture.OperatorCredential, ["COLUMNS"] = "250" },
                timeout: TimeSpan.FromMinutes(1));
            Assert.True(inspect.ExitCode == 0, $"cyclelock inspect exited {inspect.ExitCode}: {inspect.StandardOutput}{inspect.StandardError}");
            Assert.Contains($"{prefix}/nightly-report", inspect.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            ForgetCachedVersion(version);
        }
    }

    private static void CheckLibraryPackage(string feed, string id, string version)
    {
        using var package = ZipFile.OpenRead(Path.Combine(feed, $"{id}.{version}.nupkg"));
        var entries = package.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        Assert.Contains($"lib/net10.0/{id}.dll", entries);
        Assert.Contains($"lib/net10.0/{id}.xml", entries); // XML docs for IntelliSense
        Assert.Contains("README.md", entries);

        var nuspec = Nuspec(package, id);
        Assert.Equal(version, Metadata(nuspec, "version"));
        Assert.Equal("MIT", Metadata(nuspec, "license"));
        Assert.Equal("README.md", Metadata(nuspec, "readme"));
        Assert.False(string.IsNullOrWhiteSpace(Metadata(nuspec, "description")), $"{id} has no description");
        Assert.Contains("distributed-lock", Metadata(nuspec, "tags"), StringComparison.Ordinal);

        // Source link: the package names the commit it was built from.
        var repository = nuspec.Descendants().Single(e => e.Name.LocalName == "repository");
        Assert.Matches("^[0-9a-f]{40}$", (string?)repository.Attribute("commit") ?? string.Empty);

        // Every CycleLock dependency is the same version: one version for all, set in one place.
        foreach (var dependency in nuspec.Descendants().Where(e => e.Name.LocalName == "dependency" && ((string?)e.Attribute("id"))!.StartsWith("CycleLock.", StringComparison.Ordinal)))
        {
            Assert.Equal(version, (string?)dependency.Attribute("version"));
        }

        using var symbols = ZipFile.OpenRead(Path.Combine(feed, $"{id}.{version}.snupkg"));
        Assert.Contains(symbols.Entries, e => e.FullName == $"lib/net10.0/{id}.pdb");
    }

    private static void CheckToolPackage(string feed, string version)
    {
        using var package = ZipFile.OpenRead(Path.Combine(feed, $"CycleLock.Cli.{version}.nupkg"));
        Assert.Contains(package.Entries, e => e.FullName.EndsWith("/cyclelock.dll", StringComparison.Ordinal) && e.FullName.StartsWith("tools/net10.0/", StringComparison.Ordinal));
        var settings = package.Entries.Single(e => e.FullName.EndsWith("DotnetToolSettings.xml", StringComparison.Ordinal));
        using var reader = new StreamReader(settings.Open());
        Assert.Contains("<Command Name=\"cyclelock\"", reader.ReadToEnd(), StringComparison.Ordinal);
        Assert.Contains(package.Entries, e => e.FullName == "README.md");
    }

    private static XDocument Nuspec(ZipArchive package, string id)
    {
        using var stream = package.GetEntry($"{id}.nuspec")!.Open();
        return XDocument.Load(stream);
    }

    private static string Metadata(XDocument nuspec, string name) =>
        nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name) is { } element ? element.Value.Trim() : string.Empty;

    private static void CopySample(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            {
                continue;
            }

            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>Removes this run's packages from the global packages folder: a test version nobody else uses.</summary>
    private static void ForgetCachedVersion(string version)
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in Libraries.Select(Path.GetFileNameWithoutExtension).Append("CycleLock.Cli"))
        {
            var folder = Path.Combine(cache, id!.ToLowerInvariant(), version);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
