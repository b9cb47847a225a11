namespace CycleLock.Tests.Infrastructure;

/// <summary>Where the repository and its sibling projects' build output are, seen from the test assembly
/// (<c>tests/CycleLock.Tests/bin/&lt;Configuration&gt;/net10.0/</c>).</summary>
public static class BuildOutput
{
    /// <summary>The repository root.</summary>
    public static string Root { get; } = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Parent!.Parent!.Parent!.Parent!.FullName;

    /// <summary>The configuration the tests were built in (Debug or Release).</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    /// <summary>A sibling project's built assembly, e.g. <c>Of("src/Silo", "CycleLock.Silo.dll")</c>.</summary>
    public static string Of(string project, string assembly)
    {
        var path = Path.Combine(Root, project, "bin", Configuration, "net10.0", assembly);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{assembly} is not built at {path} (the test project builds it).");
    }
}
