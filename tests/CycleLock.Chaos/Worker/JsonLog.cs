using System.Text.Json;

namespace CycleLock.Chaos.Worker;

/// <summary>One JSON object per line, flushed at once, so a paused or killed process loses at most the
/// line it was writing.</summary>
public sealed class JsonLog : IDisposable
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
    private readonly StreamWriter _writer;
    private readonly Lock _gate = new();

    public JsonLog(string path)
    {
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public void Write(LogLine line)
    {
        var text = JsonSerializer.Serialize(line, Options);
        lock (_gate)
        {
            _writer.WriteLine(text);
        }
    }

    public static IEnumerable<LogLine> Read(string path) =>
        File.ReadLines(path)
            .Where(l => l.Length > 0 && l[^1] == '}')
            .Select(l => JsonSerializer.Deserialize<LogLine>(l, Options)!);

    public void Dispose() => _writer.Dispose();
}
