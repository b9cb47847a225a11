namespace CycleLock.Testing;

/// <summary>Where the repository and its projects' build output are, seen from the running assembly (a test,
/// chaos or benchmark project's <c>bin/&lt;Configuration&gt;/net10.0/</c>, two folders below the repository).</summary>
public static class BuildOutput
{
    /// <summary>The repository root.</summary>
    public static string Root { get; } = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Parent!.Parent!.Parent!.Parent!.FullName;

    /// <summary>The configuration the running project was built in (Debug or Release).</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    /// <summary>A project's built assembly, e.g. <c>Of("src/Silo", "CycleLock.Silo.dll")</c>.</summary>
    public static string Of(string project, string assembly)
    {
        var path = Path.Combine(Root, project, "bin", Configuration, "net10.0", assembly);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{assembly} is not built at {path} (the calling project builds it: reference it with ReferenceOutputAssembly=false).");
    }
}
