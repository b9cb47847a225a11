using CycleLock.Testing;

namespace CycleLock.Tests.Adoption;

/// <summary>
/// An accidental change of a shipped library's public API fails the build: a copy of the provider project (inside
/// the repository, so it builds with the same settings and analyzers) with one public method added, and one with a
/// public type removed, are both refused by the public API check, naming the symbol.
/// </summary>
public sealed class PublicApiTests
{
    private static readonly string Project = Path.Combine(BuildOutput.Root, "src", "Client", "DistributedLock");

    [Fact]
    public async Task AddingOrRemovingPublicApi_WithoutRecordingIt_FailsTheBuild_NamingTheSymbol()
    {
        var added = await BuildCopyAsync(copy => File.WriteAllText(
            Path.Combine(copy, "Accident.cs"),
            "namespace CycleLock.DistributedLock;\n\n/// <summary>An API nobody meant to ship.</summary>\npublic static class Accident\n{\n    /// <summary>Oops.</summary>\n    public static int Oops(int value) => value;\n}\n"));
        Assert.True(added.ExitCode != 0, "a public method added without recording it built: " + added.Output);
        Assert.Contains("RS0016", added.Output, StringComparison.Ordinal);
        Assert.Contains("CycleLock.DistributedLock.Accident.Oops(int value) -> int", added.Output, StringComparison.Ordinal);

        var removed = await BuildCopyAsync(copy => File.Delete(Path.Combine(copy, "CycleLockDistributedLockServiceCollectionExtensions.cs")));
        Assert.True(removed.ExitCode != 0, "a shipped public type removed built: " + removed.Output);
        Assert.Contains("RS0017", removed.Output, StringComparison.Ordinal);
        Assert.Contains("AddCycleLockDistributedLockProvider", removed.Output, StringComparison.Ordinal);

        var unchanged = await BuildCopyAsync(_ => { });
        Assert.True(unchanged.ExitCode == 0, "the unchanged copy did not build: " + unchanged.Output);
    }

    private static async Task<(int ExitCode, string Output)> BuildCopyAsync(Action<string> change)
    {
        var copy = Path.Combine(Path.GetDirectoryName(Project)!, "ApiProbe" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(copy);
            foreach (var file in Directory.EnumerateFiles(Project))
            {
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            }

            change(copy);
            var result = await Tools.RunAsync(
                "dotnet",
                ["build", Path.Combine(copy, "CycleLock.DistributedLock.csproj"), "-c", BuildOutput.Configuration, "-p:BuildProjectReferences=false", "-nologo", "-v", "q"],
                throwOnError: false,
                timeout: TimeSpan.FromMinutes(4));
            return (result.ExitCode, result.StandardOutput + result.StandardError);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }
}
