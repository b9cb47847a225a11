using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CycleLock.Client;
using Npgsql;

namespace CycleLock.Tests.SiloHost;

/// <summary>The console's endpoints on the silo's web host (the browser tests are in <see cref="ConsoleBrowserTests"/>); authentication; health and metrics.</summary>
[Collection(HostCollection.Name)]
public sealed partial class LeaseViewTests(SiloHostFixture fixture)
{
    private static string Basic => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{SiloHostFixture.User}:{SiloHostFixture.Password}"));

    [Fact]
    public async Task TheDashboardsGrainStateView_OfALockActivation_ShowsTheLease_WithoutItsKey()
    {
        var name = "dash-state/" + Guid.NewGuid().ToString("N")[..8];
        var held = await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
        Assert.True(held.Acquired, held.ToString());
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Silo.WebUrl), Timeout = TimeSpan.FromSeconds(20) };

        // What the dashboard's grain-state page asks for: the implementation type and the grain id.
        var page = await GetAsync(http, $"/dashboard/GrainState?grainId={Uri.EscapeDataString(name)}&grainType=CycleLock.CycleLockGrain", authorized: true);
        var body = page[(page.IndexOf("\n\n", StringComparison.Ordinal) + 2)..];
        TestContext.Current.SendDiagnosticMessage("dashboard grain state: " + body);
        using var json = JsonDocument.Parse(body);
        var state = JsonDocument.Parse(json.RootElement.GetString() ?? body).RootElement.GetProperty("GetState");
        Assert.Equal(name, state.GetProperty("Name").GetString());
        Assert.Equal("Held", state.GetProperty("Phase").GetString());
        Assert.Equal("host-tests", state.GetProperty("HolderLabel").GetString());
        Assert.Equal(held.Handle!.Epoch, state.GetProperty("Epoch").GetInt64());
        Assert.InRange(state.GetProperty("TimeLeftSeconds").GetDouble(), 1, 30);

        // Nothing that could act as the holder: no key, no holder id.
        Assert.DoesNotContain(held.Handle.HolderId.ToString(), body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Key", body, StringComparison.Ordinal);
        await held.Handle.DisposeAsync();
    }

    [Fact]
    public async Task WithAPasswordConfigured_UnauthenticatedRequestsAreRefused_HealthAndMetricsStayOpen()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Silo.WebUrl) };
        foreach (var path in new[] { "/", "/leases", "/leases/data", "/leases/history?name=x", "/dashboard", "/dashboard/ClusterStats", "/dashboard/Trace", "/dashboard/index.min.js" })
        {
            var anonymous = await http.GetAsync(path);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {anonymous.StatusCode}");
            using var wrong = new HttpRequestMessage(HttpMethod.Get, path);
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("operator:wrong")));
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
        }

        using var authorized = new HttpRequestMessage(HttpMethod.Get, "/leases/data");
        authorized.Headers.Authorization = new AuthenticationHeaderValue("Basic", Basic);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(authorized)).StatusCode);

        var health = await http.GetAsync("/health");
        var body = await health.Content.ReadAsStringAsync();
        Assert.True(health.IsSuccessStatusCode, body);
        Assert.Contains("\"database\"", body, StringComparison.Ordinal);
        Assert.Contains("\"membership\"", body, StringComparison.Ordinal);

        var held = await fixture.Locks.TryAcquireAsync("metrics/" + Guid.NewGuid().ToString("N")[..8], TimeSpan.FromSeconds(10));
        await held.Handle!.DisposeAsync();
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("cyclelock_acquires", metrics, StringComparison.Ordinal);
        Assert.Contains("cyclelock_db_attempts", metrics, StringComparison.Ordinal);
        Assert.Contains("db_client_connection", metrics, StringComparison.Ordinal); // Npgsql's pool metrics
        Assert.True((await http.GetAsync("/health/live")).IsSuccessStatusCode);
    }

    [Fact]
    public async Task Responses_CarrySecurityHeaders_OtherHostsAreRefused_AndAWrongPasswordWaitsASecond()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Silo.WebUrl) };
        using var page = new HttpRequestMessage(HttpMethod.Get, "/leases");
        page.Headers.Authorization = new AuthenticationHeaderValue("Basic", Basic);
        var leases = await http.SendAsync(page);
        var html = await leases.Content.ReadAsStringAsync();
        var csp = string.Join(" ", leases.Headers.GetValues("Content-Security-Policy"));
        var nonce = System.Text.RegularExpressions.Regex.Match(csp, "'nonce-([^']+)'").Groups[1].Value;

        Assert.StartsWith("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.NotEmpty(nonce);
        Assert.Contains($"<script nonce=\"{nonce}\">", html, StringComparison.Ordinal); // this response's nonce, not a fixed one
        Assert.Equal("DENY", leases.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", leases.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", leases.Headers.GetValues("Referrer-Policy").Single());
        var dashboard = await http.GetAsync("/dashboard");
        Assert.Contains("script-src 'self'", string.Join(" ", dashboard.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);

        // A page served for another host name (DNS rebinding: attacker.example resolving to this silo) is refused.
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "/leases/data");
        rebound.Headers.Authorization = new AuthenticationHeaderValue("Basic", Basic);
        rebound.Headers.Host = "attacker.example";
        Assert.Equal(HttpStatusCode.BadRequest, (await http.SendAsync(rebound)).StatusCode);
        using var local = new HttpRequestMessage(HttpMethod.Get, "/health");
        local.Headers.Host = "localhost";
        Assert.True((await http.SendAsync(local)).IsSuccessStatusCode, "localhost is an allowed host");

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/leases");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("operator:guess")));
        var started = TimeProvider.System.GetTimestamp();
        var refused = await http.SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.True(TimeProvider.System.GetElapsedTime(started) >= TimeSpan.FromSeconds(0.9), "a wrong password is answered after the failed-login delay");
    }

    [Fact]
    public async Task ForceRelease_FromTheWeb_NeedsTheAntiforgeryTokenOfAServedPage_AndRecordsTheWebOperator()
    {
        var name = "web-release/" + Guid.NewGuid().ToString("N")[..8];
        var held = await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
        Assert.True(held.Acquired, held.ToString());
        var epoch = held.Handle!.Epoch;
        var body = $"{{\"name\":\"{name}\",\"epoch\":{epoch},\"reason\":\"test: web force-release\"}}";

        // A page elsewhere can make the operator's browser post with its basic credentials, but has no token: refused.
        using var forger = new HttpClient { BaseAddress = new Uri(fixture.Silo.WebUrl), Timeout = TimeSpan.FromSeconds(20) };
        using (var forged = Post(body, token: null))
        {
            var refused = await forger.SendAsync(forged);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("anti-forgery", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A token without the cookie it belongs to (copied from a page, sent by another browser): refused.
        using var operatorBrowser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = new Uri(fixture.Silo.WebUrl), Timeout = TimeSpan.FromSeconds(20) };
        var token = await PageTokenAsync(operatorBrowser);
        using (var copied = Post(body, token))
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await forger.SendAsync(copied)).StatusCode);
        }

        var info = await fixture.Locks.InspectAsync(name);
        Assert.Equal((LockState.Held, epoch), (info.State, info.Epoch));
        Assert.DoesNotContain(await fixture.Locks.HistoryAsync(name), e => e.Event == "force-released");

        // Bad input from the page: a typed refusal naming the rule, nothing changes.
        using (var bad = Post($"{{\"name\":\"{name}\",\"epoch\":{epoch},\"reason\":\" \"}}", token))
        {
            var refused = await operatorBrowser.SendAsync(bad);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("rule:", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The page's own token and cookie: released, and history names the web host's authenticated user.
        using (var real = Post(body, token))
        {
            var answered = await operatorBrowser.SendAsync(real);
            var text = await answered.Content.ReadAsStringAsync();
            Assert.True(answered.IsSuccessStatusCode, text);
            Assert.Contains("\"status\":\"Released\"", text, StringComparison.Ordinal);
        }

        var entry = Assert.Single(await fixture.Locks.HistoryAsync(name), e => e.Event == "force-released");
        Assert.Equal(($"web:{SiloHostFixture.User}", $"web:{SiloHostFixture.User}", "test: web force-release"), (entry.Operator, entry.By, entry.Reason));
        await held.Handle.DisposeAsync();
    }

    [Fact]
    public async Task Console_FiltersSortsAndPagesInTheDatabase_CountsTiles_AndDrawsTheTimelineWithNamesAsText()
    {
        var prefix = "console-" + Guid.NewGuid().ToString("N")[..6] + "/";
        var handles = new List<LockHandle>();
        for (var i = 0; i < 7; i++)
        {
            var name = $"{prefix}{i}";
            var granted = await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
            Assert.True(granted.Acquired, granted.ToString());
            if (i < 3)
            {
                handles.Add(granted.Handle!); // 0, 1, 2 stay held
            }
            else
            {
                await granted.Handle!.DisposeAsync(); // 3 to 6 are free again
            }
        }

        var hostile = prefix + "<script>alert(1)</script>&\"";
        var hostileLease = (await fixture.Locks.TryAcquireAsync(hostile, TimeSpan.FromSeconds(30))).Handle!;
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Silo.WebUrl), Timeout = TimeSpan.FromSeconds(20) };
        async Task<JsonElement> PageAsync(string query)
        {
            var text = await GetAsync(http, "/leases/page?" + query, authorized: true);
            return JsonDocument.Parse(text[(text.IndexOf("\n\n", StringComparison.Ordinal) + 2)..]).RootElement;
        }

        string[] Names(JsonElement page) => [.. page.GetProperty("locks").EnumerateArray().Select(l => l.GetProperty("name").GetString()!)];
        var p = Uri.EscapeDataString(prefix);

        var second = await PageAsync($"prefix={p}&size=3&page=1");
        Assert.Equal(8, second.GetProperty("total").GetInt64());
        Assert.Equal([$"{prefix}3", $"{prefix}4", $"{prefix}5"], Names(second));

        var held = await PageAsync($"prefix={p}&state=held&sort=epoch");
        Assert.Equal(4, held.GetProperty("total").GetInt64());
        var epochs = held.GetProperty("locks").EnumerateArray().Select(l => l.GetProperty("epoch").GetInt64()).ToList();
        Assert.Equal(epochs.OrderByDescending(e => e), epochs);
        Assert.All(held.GetProperty("locks").EnumerateArray(), l => Assert.InRange(l.GetProperty("ttlSeconds").GetDouble(), 29, 30));

        var free = await PageAsync($"prefix={p}&state=free");
        Assert.Equal([$"{prefix}3", $"{prefix}4", $"{prefix}5", $"{prefix}6"], Names(free));
        Assert.Equal(0, (await PageAsync($"prefix={p}&holder=nobody-holds-this")).GetProperty("total").GetInt64());
        Assert.Equal(4, (await PageAsync($"prefix={p}&holder=HOST-TESTS")).GetProperty("total").GetInt64());

        // Bad input: a typed refusal naming the rule.
        foreach (var bad in new[] { "sort=drop%20table", "state=maybe", "size=0", "size=501", "page=-1" })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/leases/page?" + bad) { Headers = { Authorization = new AuthenticationHeaderValue("Basic", Basic) } });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("rule", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var summaryText = await GetAsync(http, "/leases/summary", authorized: true);
        using var summary = JsonDocument.Parse(summaryText[(summaryText.IndexOf("\n\n", StringComparison.Ordinal) + 2)..]);
        Assert.True(summary.RootElement.GetProperty("held").GetInt64() >= 4);
        Assert.True(summary.RootElement.GetProperty("grantsLastMinute").GetInt64() >= 8);

        // The timeline: a bar per epoch and a marker per end, the hostile name as escaped text.
        await fixture.Locks.ForceReleaseAsync($"{prefix}0", handles[0].Epoch, "test: console", "test", skipDelay: true);
        var svg = await GetAsync(http, $"/leases/timeline?name={Uri.EscapeDataString(prefix + "0")}&name={Uri.EscapeDataString(prefix + "3")}&name={Uri.EscapeDataString(hostile)}", authorized: true);
        Assert.Contains("image/svg+xml", svg, StringComparison.Ordinal);
        Assert.Contains($"class=\"marker force-released\" data-lock=\"{prefix}0\" data-epoch=\"{handles[0].Epoch}\"", svg, StringComparison.Ordinal);
        Assert.Contains($"class=\"marker released\" data-lock=\"{prefix}3\"", svg, StringComparison.Ordinal);
        Assert.Contains($"class=\"epoch\" data-lock=\"{prefix}0\" data-epoch=\"{handles[0].Epoch}\"", svg, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", svg, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", svg, StringComparison.Ordinal);
        using (var bad = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/leases/timeline") { Headers = { Authorization = new AuthenticationHeaderValue("Basic", Basic) } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode); // no names: the rule is 1 to 200
        }

        foreach (var handle in handles.Skip(1).Append(hostileLease))
        {
            await handle.DisposeAsync();
        }
    }

    [Fact]
    public async Task Console_Reset_NeedsThePagesAntiforgeryToken_AndRecordsTheWebOperator()
    {
        var name = "console-reset/" + Guid.NewGuid().ToString("N")[..8];
        await (await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30))).Handle!.DisposeAsync();

        // Dead, as three stalls would leave it (written here: stalls take minutes of real time).
        await using (var dead = fixture.Postgres.DataSource.CreateCommand("UPDATE cyclelock.lease SET state = 'dead', stalls = 3 WHERE service_id = $1 AND name = $2"))
        {
            dead.Parameters.Add(new NpgsqlParameter { Value = fixture.ServiceId });
            dead.Parameters.Add(new NpgsqlParameter { Value = name });
            Assert.Equal(1, await dead.ExecuteNonQueryAsync());
        }

        var body = $"{{\"name\":\"{name}\"}}";
        using var forger = new HttpClient { BaseAddress = new Uri(fixture.Silo.WebUrl), Timeout = TimeSpan.FromSeconds(20) };
        using (var forged = Post(body, token: null, "/leases/reset"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await forger.SendAsync(forged)).StatusCode);
        }

        Assert.DoesNotContain(await fixture.Locks.HistoryAsync(name), e => e.Event == "reset");
        using var operatorBrowser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = new Uri(fixture.Silo.WebUrl), Timeout = TimeSpan.FromSeconds(20) };
        var token = await PageTokenAsync(operatorBrowser);
        using (var real = Post(body, token, "/leases/reset"))
        {
            var answered = await operatorBrowser.SendAsync(real);
            var text = await answered.Content.ReadAsStringAsync();
            Assert.True(answered.IsSuccessStatusCode, text);
            Assert.Contains("\"wasDead\":true", text, StringComparison.Ordinal);
        }

        var entry = Assert.Single(await fixture.Locks.HistoryAsync(name), e => e.Event == "reset");
        Assert.Equal($"web:{SiloHostFixture.User}", entry.Operator);
        Assert.Equal(LockState.Free, (await fixture.Locks.InspectAsync(name)).State);
    }

    private static HttpRequestMessage Post(string json, string? token, string path = "/leases/force-release")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Basic);
        if (token is not null)
        {
            request.Headers.Add("X-CycleLock-Token", token);
        }

        return request;
    }

    private static async Task<string> PageTokenAsync(HttpClient browser)
    {
        var page = await GetAsync(browser, "/leases", authorized: true);
        return PageToken().Match(page) is { Success: true } match ? match.Groups[1].Value : throw new InvalidOperationException("the lease view carries no token");
    }

    [GeneratedRegex("<meta name=\"cyclelock-token\" content=\"([^\"]+)\">")]
    private static partial Regex PageToken();

    [Fact]
    public async Task Secrets_NeitherTheDatabaseNorTheWebPassword_ReachAnyResponseOrTheSiloOutput()
    {
        // The database password is real: the server requires it of the silo's role (a wrong one is refused),
        // so a healthy database check below means the silo holds it and uses it.
        if (fixture.Postgres.OwnsCluster)
        {
            var wrong = new NpgsqlConnectionStringBuilder(fixture.SiloConnectionString) { Password = "wrong", Pooling = false };
            await using var connection = new NpgsqlConnection(wrong.ConnectionString);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync());
            Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
        }

        var secrets = new[] { fixture.DatabasePassword, SiloHostFixture.Password, Basic, SiloHostFixture.OperatorCredential.Split(':')[1], SiloHostFixture.WorkerCredential.Split(':')[1] };
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(fixture.Silo.WebUrl), Timeout = TimeSpan.FromSeconds(20) };
        var responses = new Dictionary<string, string>();

        // Activity the silo logs (CycleLock at Debug) and the dashboard traces, while its trace stream is read.
        var name = "secrets/" + Guid.NewGuid().ToString("N")[..8];
        var trace = ReadStreamAsync(http, "/dashboard/Trace", TimeSpan.FromSeconds(3));
        var held = await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
        Assert.True(held.Acquired, held.ToString());
        await fixture.Locks.ForceReleaseAsync(name, held.Handle!.Epoch, "test: secrets", "test", skipDelay: true);
        await held.Handle.DisposeAsync();
        responses["/dashboard/Trace (3 s of the stream)"] = await trace;

        var paths = new List<string>
        {
            "/", "/leases", "/leases/data", $"/leases/history?name={Uri.EscapeDataString(name)}", "/leases/history?name=none",
            "/dashboard", "/dashboard/index.html", "/dashboard/index.min.js", "/dashboard/version", "/dashboard/ClusterStats",
            "/dashboard/DashboardCounters", "/dashboard/GrainTypes", "/dashboard/TopGrainMethods", "/dashboard/Reminders",
            "/dashboard/LifecycleStages", "/health", "/health/live", "/metrics",
        };
        foreach (var path in paths)
        {
            responses[path] = await GetAsync(http, path, authorized: true);
        }

        // Per-silo dashboard pages, for every silo address the cluster pages name.
        var silos = SiloAddress().Matches(responses["/dashboard/ClusterStats"] + responses["/dashboard/DashboardCounters"]).Select(m => m.Value).Distinct().ToList();
        Assert.NotEmpty(silos);
        foreach (var silo in silos)
        {
            foreach (var page in new[] { "SiloProperties", "SiloMetadata", "SiloCounters", "SiloStats", "HistoricalStats" })
            {
                var path = $"/dashboard/{page}/{Uri.EscapeDataString(silo)}";
                responses[path] = await GetAsync(http, path, authorized: true);
            }
        }

        // Refusals, too, must not echo what was sent.
        responses["/leases/data (anonymous)"] = await GetAsync(http, "/leases/data", authorized: false);
        responses["/dashboard (anonymous)"] = await GetAsync(http, "/dashboard", authorized: false);

        Assert.Contains("\"database\":{\"status\":\"Healthy\"", responses["/health"], StringComparison.Ordinal);
        TestContext.Current.SendDiagnosticMessage("checked: " + string.Join(", ", responses.Select(r => $"{r.Key} ({r.Value.Length} chars)")));
        foreach (var (path, body) in responses)
        {
            foreach (var secret in secrets)
            {
                Assert.False(body.Contains(secret, StringComparison.Ordinal), $"{path} shows a secret ({Hint(secret)})");
            }
        }

        var output = fixture.Silo.Output;
        foreach (var secret in secrets.Append(fixture.SiloConnectionString))
        {
            Assert.False(output.Contains(secret, StringComparison.Ordinal), $"the silo's output shows a secret ({Hint(secret)})");
        }

        Assert.DoesNotContain("Password=", output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain($"Username={fixture.DatabaseRole}", output, StringComparison.Ordinal);
    }

    private static async Task<string> GetAsync(HttpClient http, string path, bool authorized)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (authorized)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Basic);
        }

        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(authorized ? (int)response.StatusCode < 400 : response.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {response.StatusCode}");
        return string.Join('\n', response.Headers.Concat(response.Content.Headers).Select(h => $"{h.Key}: {string.Join(", ", h.Value)}")) + "\n\n" + body;
    }

    // A streaming response: whatever arrives within the duration.
    private static async Task<string> ReadStreamAsync(HttpClient http, string path, TimeSpan duration)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Basic);
        using var stop = new CancellationTokenSource(duration);
        var text = new StringBuilder();
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop.Token);
            Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode}");
            await using var stream = await response.Content.ReadAsStreamAsync(stop.Token);
            var buffer = new byte[8192];
            int read;
            while ((read = await stream.ReadAsync(buffer, stop.Token)) > 0)
            {
                text.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        return text.ToString();
    }

    // Which secret, without printing it.
    private static string Hint(string secret) => secret == SiloHostFixture.Password ? "the web password" : secret == Basic ? "the basic credentials" : secret.StartsWith("Pw", StringComparison.Ordinal) ? "the database password" : "the connection string";

    [GeneratedRegex(@"\d{1,3}(\.\d{1,3}){3}:\d+@\d+")]
    private static partial Regex SiloAddress();
}
