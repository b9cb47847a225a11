using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CycleLock.Testing;

namespace CycleLock.Tests.Infrastructure;

/// <summary>
/// Debian's <c>chromium</c> in headless mode, driven through the DevTools protocol over a WebSocket (no
/// browser download, no driver): navigate, set headers, evaluate JavaScript in the page.
/// <c>--no-sandbox</c> because CI runs as root.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly ManagedProcess _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _id;

    private HeadlessChromium(ManagedProcess process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public static string? Executable => Tools.Which("chromium") ?? Tools.Which("chromium-browser");

    public static async Task<HeadlessChromium> StartAsync()
    {
        var executable = Executable ?? throw new InvalidOperationException("chromium is not installed (apt-get install chromium; .ci/run installs it).");
        var profile = Directory.CreateTempSubdirectory("cyclelock-chromium-").FullName;
        var process = ManagedProcess.Start("chromium", executable, ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--remote-debugging-port=0", $"--user-data-dir={profile}", "about:blank"]);
        var browser = new HeadlessChromium(process, profile);
        var portFile = Path.Combine(profile, "DevToolsActivePort");
        var until = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (!File.Exists(portFile) || (await File.ReadAllLinesAsync(portFile)).Length < 2)
        {
            if (process.Exited || Stopwatch.GetTimestamp() > until)
            {
                await browser.DisposeAsync();
                throw new InvalidOperationException("chromium did not open its DevTools port");
            }

            await Task.Delay(100);
        }

        var port = (await File.ReadAllLinesAsync(portFile))[0].Trim();
        using var http = new HttpClient();
        var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"))!.AsArray();
        var page = targets.First(t => (string?)t!["type"] == "page")!;
        await browser._socket.ConnectAsync(new Uri((string)page["webSocketDebuggerUrl"]!), CancellationToken.None);
        return browser;
    }

    /// <summary>Sends one DevTools command and returns its result.</summary>
    public async Task<JsonNode?> SendAsync(string method, object? parameters = null)
    {
        var id = Interlocked.Increment(ref _id);
        var message = JsonSerializer.SerializeToUtf8Bytes(new { id, method, @params = parameters ?? new { } });
        await _socket.SendAsync(message, WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[1 << 16];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var stream = new MemoryStream();
            WebSocketReceiveResult received;
            do
            {
                received = await _socket.ReceiveAsync(buffer, timeout.Token);
                stream.Write(buffer, 0, received.Count);
            }
            while (!received.EndOfMessage);

            var reply = JsonNode.Parse(Encoding.UTF8.GetString(stream.ToArray()))!;
            if ((int?)reply["id"] == id)
            {
                return reply["error"] is { } error ? throw new InvalidOperationException($"{method}: {error.ToJsonString()}") : reply["result"];
            }
        }
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page and returns its value as JSON text.</summary>
    public async Task<string?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new { expression, returnByValue = true, awaitPromise = true });
        return result?["result"]?["value"]?.ToJsonString();
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
