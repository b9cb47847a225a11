using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CycleLock.Tests.Infrastructure;

namespace CycleLock.Tests.SiloHost;

/// <summary>The lease view on the silo's web host, in headless Chromium; authentication; health and metrics.</summary>
[Collection(HostCollection.Name)]
public sealed class LeaseViewTests(SiloHostFixture fixture)
{
    private static string Basic => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{SiloHostFixture.User}:{SiloHostFixture.Password}"));

    [Fact]
    public async Task LeaseView_InHeadlessChromium_ShowsAHeldLock_ThenItsForceRelease()
    {
        var name = "view/" + Guid.NewGuid().ToString("N")[..8];
        var held = await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30));
        var handle = held.Handle!;

        await using var browser = await HeadlessChromium.StartAsync();
        await browser.SendAsync("Network.enable");
        await browser.SendAsync("Network.setExtraHTTPHeaders", new { headers = new Dictionary<string, string> { ["Authorization"] = "Basic " + Basic } });
        await browser.SendAsync("Page.navigate", new { url = $"{fixture.Silo.WebUrl}/leases" });

        var row = $"document.querySelector('tr[data-lock=\"{name}\"]')";
        var seen = await WaitForAsync(browser, $"{row} ? [{row}.dataset.state, {row}.dataset.epoch, {row}.cells[2].textContent].join('|') : null", v => v?.StartsWith("\"held|", StringComparison.Ordinal) == true);
        TestContext.Current.SendDiagnosticMessage($"lease view row: {seen}");
        Assert.Equal($"\"held|{handle.Epoch}|host-tests\"", seen);

        await fixture.Locks.ForceReleaseAsync(name, handle.Epoch, "test: lease view", "test", skipDelay: true);
        var after = await WaitForAsync(browser, $"{row} ? {row}.dataset.state + '|' + {row}.dataset.epoch : null", v => v is not null && !v.StartsWith("\"held|", StringComparison.Ordinal));
        TestContext.Current.SendDiagnosticMessage($"after force-release: {after}");
        Assert.Equal($"\"free|{handle.Epoch + 1}\"", after);

        // The history of the selected lock (click) shows the force-release.
        await browser.EvaluateAsync($"{row}.click()");
        var history = await WaitForAsync(browser, "document.getElementById('history').textContent", v => v?.Contains("force-released", StringComparison.Ordinal) == true);
        Assert.Contains("granted", history, StringComparison.Ordinal);
        await handle.DisposeAsync();
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
        Assert.True((await http.GetAsync("/health/live")).IsSuccessStatusCode);

        // Neither the password nor the connection string ever reaches the silo's output (logged at Debug for CycleLock).
        Assert.DoesNotContain(SiloHostFixture.Password, fixture.Silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.Postgres.ConnectionString, fixture.Silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Username=postgres", fixture.Silo.Output, StringComparison.Ordinal);
    }

    private static async Task<string?> WaitForAsync(HeadlessChromium browser, string expression, Func<string?, bool> done)
    {
        var until = Stopwatch.GetTimestamp() + (20 * Stopwatch.Frequency);
        string? value = null;
        while (Stopwatch.GetTimestamp() < until)
        {
            value = await browser.EvaluateAsync(expression);
            if (done(value))
            {
                return value;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"the page never showed what was expected; last value {value ?? "null"} for {expression}");
    }
}
