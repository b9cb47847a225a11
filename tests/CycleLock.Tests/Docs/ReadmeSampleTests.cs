using System.Text.RegularExpressions;
using CycleLock.Client;
using CycleLock.Testing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace CycleLock.Tests.Docs;

/// <summary>The README's C# samples compile as written, against the SDK, the guard, the provider and the Orleans client.</summary>
public sealed partial class ReadmeSampleTests
{
    // What the text around each sample says the reader has: the first is a program's body (args, and the job it runs),
    // the last runs inside a worker that has a connection, its ServiceId and a held lock.
    // The last sample's worker uses the SDK (the guard is an extension in its namespace) and Npgsql.
    private static readonly (string Usings, string Parameters, string Members)[] Contexts =
    [
        ("", "string[] args", "static Task RunJobAsync(long fencingEpoch, CancellationToken ct) => Task.CompletedTask;"),

        // The provider one-liner: a host builder being configured and the provider an application already injects.
        ("using Medallion.Threading;\nusing Microsoft.Extensions.DependencyInjection;\nusing Microsoft.Extensions.Hosting;\nusing Orleans.Hosting;", "HostApplicationBuilder builder, IDistributedLockProvider provider", "static Task RunAsync(CancellationToken ct) => Task.CompletedTask;"),

        // Leader election: a host builder being configured and the leader's work.
        ("using Microsoft.Extensions.DependencyInjection;\nusing Microsoft.Extensions.Hosting;", "HostApplicationBuilder builder", "static Task RunAsLeaderAsync(long term, CancellationToken ct) => Task.CompletedTask;"),

        // The epoch guard.
        ("using CycleLock.Client;\nusing Npgsql;", "NpgsqlConnection connection, string serviceId, LockHandle handle", "static Task WriteProtectedRowsAsync(NpgsqlConnection c, NpgsqlTransaction tx) => Task.CompletedTask;"),
    ];

    // An SDK-style project's implicit usings; a sample's own using directives are lifted to the top of the file.
    private const string ImplicitUsings = """
        using System;
        using System.Collections.Generic;
        using System.IO;
        using System.Linq;
        using System.Net.Http;
        using System.Threading;
        using System.Threading.Tasks;
        """;

    [Fact]
    public void EveryCSharpSample_Compiles()
    {
        var samples = Samples(File.ReadAllText(Path.Combine(BuildOutput.Root, "README.md")));
        Assert.True(samples.Count == Contexts.Length, $"the README has {samples.Count} C# samples and this test knows the context of {Contexts.Length}: give a new sample its context here");

        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && a.Location.Length > 0).Select(a => a.Location))
            .Concat([typeof(CycleLockClient).Assembly.Location, typeof(EpochGuard).Assembly.Location,
                typeof(DistributedLock.CycleLockDistributedLockProvider).Assembly.Location, typeof(Medallion.Threading.IDistributedLockProvider).Assembly.Location])
            .Distinct(StringComparer.Ordinal)
            .Select(path => MetadataReference.CreateFromFile(path));
        for (var i = 0; i < samples.Count; i++)
        {
            var lines = samples[i].Split('\n');
            var usings = string.Join('\n', lines.Where(IsUsing));
            var body = string.Join('\n', lines.Where(l => !IsUsing(l)));
            var source = $$"""
                {{ImplicitUsings}}
                {{Contexts[i].Usings}}
                {{usings}}
                static class Sample{{i}}
                {
                    public static async Task RunAsync({{Contexts[i].Parameters}})
                    {
                {{body}}
                    }

                    {{Contexts[i].Members}}
                }
                """;
            var compilation = CSharpCompilation.Create(
                $"ReadmeSample{i}",
                [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
                references,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
            var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
            Assert.True(errors.Count == 0, $"README sample {i + 1} does not compile:\n{string.Join('\n', errors)}\n---\n{samples[i]}");
        }
    }

    [Fact]
    public void Samples_AreFoundWithTheirIndentation()
    {
        var readme = "text\n```csharp\nvar a = 1;\n```\n- item\n\n  ```csharp\n  var b = 2;\n  ```\n```bash\nls\n```\n";

        Assert.Equal(["var a = 1;", "var b = 2;"], Samples(readme).Select(s => s.Trim()));
    }

    private static bool IsUsing(string line) => line.StartsWith("using ", StringComparison.Ordinal) && !line.StartsWith("using var ", StringComparison.Ordinal) && !line.Contains('(', StringComparison.Ordinal);

    private static List<string> Samples(string markdown) =>
        [.. CSharpBlock().Matches(markdown).Select(m => string.Join('\n', m.Groups["body"].Value.Split('\n').Select(line => line.StartsWith(m.Groups["indent"].Value, StringComparison.Ordinal) ? line[m.Groups["indent"].Value.Length..] : line)))];

    [GeneratedRegex(@"^(?<indent>[ \t]*)```csharp\n(?<body>.*?)\n\k<indent>```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
