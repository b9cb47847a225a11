using System.Text.RegularExpressions;
using CycleLock.Client;
using CycleLock.Testing;
using CycleLock.Tests.Infrastructure;
using Microsoft.Playwright;

namespace CycleLock.Tests.SiloHost;

/// <summary>
/// The operator console in Debian's Chromium, driven by Playwright: tiles and rows match the cluster; a force-release
/// from the button shows the new epoch and a force-release marker on the timeline, recorded as the web user; filter
/// and paging return the right rows; a post without the page's token, or a request without credentials, is refused and
/// changes nothing; a hostile lock name renders as text. Saves a screenshot of the console (TestResults/console.png).
/// </summary>
[Collection(HostCollection.Name)]
public sealed class ConsoleBrowserTests(SiloHostFixture fixture) : IAsyncLifetime
{
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public async ValueTask InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Tools.Which("chromium") ?? Tools.Which("chromium-browser") ?? throw new InvalidOperationException("chromium is not installed (apt-get install chromium; .ci/run installs it)."),
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    private async Task<IPage> OperatorPageAsync(string path)
    {
        var context = await _browser!.NewContextAsync(new()
        {
            HttpCredentials = new() { Username = SiloHostFixture.User, Password = SiloHostFixture.Password },
            ViewportSize = new() { Width = 1280, Height = 1000 },
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(20_000);
        await page.GotoAsync(fixture.Silo.WebUrl + path);
        return page;
    }

    private static string Prefix(string what) => $"ui-{what}-{Guid.NewGuid().ToString("N")[..6]}/";

    private static string Row(string name) => $"tr[data-lock=\"{name}\"]";

    [Fact]
    public async Task TilesAndRowsMatchTheCluster_AndAForceReleaseFromTheButton_ShowsTheNewEpochAndAMarkerOnTheTimeline()
    {
        var prefix = Prefix("force");
        var first = (await fixture.Locks.TryAcquireAsync(prefix + "a", TimeSpan.FromSeconds(30))).Handle!;
        var second = (await fixture.Locks.TryAcquireAsync(prefix + "b", TimeSpan.FromSeconds(30))).Handle!;
        await (await fixture.Locks.TryAcquireAsync(prefix + "c", TimeSpan.FromSeconds(30))).Handle!.DisposeAsync();
        var page = await OperatorPageAsync($"/leases?prefix={Uri.EscapeDataString(prefix)}");

        // Rows: exactly the prefix's three locks, states and epochs as the cluster has them.
        await Assertions.Expect(page.Locator("#locks tr")).ToHaveCountAsync(3);
        await Assertions.Expect(page.Locator(Row(prefix + "a"))).ToHaveAttributeAsync("data-state", "held");
        await Assertions.Expect(page.Locator(Row(prefix + "a"))).ToHaveAttributeAsync("data-epoch", first.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Assertions.Expect(page.Locator(Row(prefix + "c"))).ToHaveAttributeAsync("data-state", "free");
        await Assertions.Expect(page.Locator(Row(prefix + "a") + " .bar")).ToHaveAttributeAsync("data-jeopardy", "false");

        // Tiles: the held count is the cluster's (read back until both agree: other locks of the suite come and go).
        await Wait.UntilAsync(
            async () =>
            {
                var summary = await page.APIRequest.GetAsync(fixture.Silo.WebUrl + "/leases/summary");
                var held = (await summary.JsonAsync())!.Value.GetProperty("held").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
                return (await page.Locator("#tile-held").TextContentAsync())?.Trim() == held;
            },
            TimeSpan.FromSeconds(20),
            "the held tile shows the cluster's held count");

        // The timeline draws a bar for each held epoch.
        await Assertions.Expect(page.Locator($"#timeline rect.epoch[data-lock=\"{prefix}a\"][data-epoch=\"{first.Epoch}\"]")).ToHaveCountAsync(1);

        // Force-release from the button: confirm the prompt; the row shows the next epoch, the timeline a marker.
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync(dialog.DefaultValue);
        await page.Locator(Row(prefix + "a")).ClickAsync();
        await page.Locator("#force-release").ClickAsync();
        await Assertions.Expect(page.Locator(Row(prefix + "a"))).Not.ToHaveAttributeAsync("data-state", "held");
        var info = await fixture.Locks.InspectAsync(prefix + "a");
        Assert.True(info.Epoch > first.Epoch, $"epoch {info.Epoch} after the force-release of {first.Epoch}");
        await Assertions.Expect(page.Locator(Row(prefix + "a"))).ToHaveAttributeAsync("data-epoch", info.Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Assertions.Expect(page.Locator($"#timeline path.marker.force-released[data-lock=\"{prefix}a\"][data-epoch=\"{first.Epoch}\"]")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#history")).ToContainTextAsync("force-released");

        var entry = Assert.Single(await fixture.Locks.HistoryAsync(prefix + "a"), e => e.Event == "force-released");
        Assert.Equal($"web:{SiloHostFixture.User}", entry.Operator);
        await Wait.UntilAsync(() => first.State == LockHandleState.Lost, TimeSpan.FromSeconds(15), "the holder learns of the force-release");

        var shots = Path.Combine(BuildOutput.Root, "TestResults");
        Directory.CreateDirectory(shots);
        await page.ScreenshotAsync(new() { Path = Path.Combine(shots, "console.png"), FullPage = true });
        await second.DisposeAsync();
        await first.DisposeAsync();
    }

    [Fact]
    public async Task TheConsoleAndTheOrleansDashboard_LinkToEachOther()
    {
        var page = await OperatorPageAsync("/leases");
        await page.Locator("a[href='/dashboard']").ClickAsync();
        await page.WaitForURLAsync(new Regex("/dashboard"));
        await Assertions.Expect(page.Locator("#cyclelock-console-link")).ToBeVisibleAsync();
        await page.Locator("#cyclelock-console-link").ClickAsync();
        await page.WaitForURLAsync(new Regex("/leases$"));
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("CycleLock console");
    }

    [Fact]
    public async Task FilterAndPaging_ReturnTheRightRows()
    {
        var prefix = Prefix("pages");
        var held = new List<LockHandle>();
        for (var i = 0; i < 55; i++)
        {
            var granted = (await fixture.Locks.TryAcquireAsync($"{prefix}{i:00}", TimeSpan.FromSeconds(30))).Handle!;
            if (i % 20 == 0)
            {
                held.Add(granted); // 00, 20, 40 stay held
            }
            else
            {
                await granted.DisposeAsync();
            }
        }

        var page = await OperatorPageAsync($"/leases?prefix={Uri.EscapeDataString(prefix)}");
        await Assertions.Expect(page.Locator("#locks tr")).ToHaveCountAsync(50);
        await Assertions.Expect(page.Locator("#locks tr").First).ToHaveAttributeAsync("data-lock", prefix + "00");
        await Assertions.Expect(page.Locator("#page-info")).ToContainTextAsync("page 1 of 2 (55 lock(s))");

        await page.Locator("#next").ClickAsync();
        await Assertions.Expect(page.Locator("#locks tr")).ToHaveCountAsync(5);
        await Assertions.Expect(page.Locator("#locks tr").First).ToHaveAttributeAsync("data-lock", prefix + "50");

        await page.Locator("#state").SelectOptionAsync("held");
        await page.Locator("#apply").ClickAsync();
        await Assertions.Expect(page.Locator("#locks tr")).ToHaveCountAsync(3);
        Assert.Equal([prefix + "00", prefix + "20", prefix + "40"], await page.Locator("#locks tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.lock)"));

        await page.Locator("#sort").SelectOptionAsync("epoch");
        await page.Locator("#apply").ClickAsync();
        await Assertions.Expect(page.Locator("#locks tr").First).ToHaveAttributeAsync("data-lock", prefix + "40");

        foreach (var handle in held)
        {
            await handle.DisposeAsync();
        }
    }

    [Fact]
    public async Task APostWithoutThePagesToken_OrARequestWithoutCredentials_IsRefused_AndChangesNothing()
    {
        var prefix = Prefix("refused");
        var lease = (await fixture.Locks.TryAcquireAsync(prefix + "held", TimeSpan.FromSeconds(30))).Handle!;
        var page = await OperatorPageAsync($"/leases?prefix={Uri.EscapeDataString(prefix)}");
        await Assertions.Expect(page.Locator(Row(prefix + "held"))).ToHaveAttributeAsync("data-state", "held");

        // From the console's own origin, with the browser's credentials, but without the token: 400.
        var status = await page.EvaluateAsync<int>(
            "async ([name, epoch]) => (await fetch('/leases/force-release', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, epoch, reason: 'forged', skipDelay: false }) })).status",
            new object[] { prefix + "held", lease.Epoch });
        Assert.Equal(400, status);
        var reset = await page.EvaluateAsync<int>("async name => (await fetch('/leases/reset', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) })).status", prefix + "held");
        Assert.Equal(400, reset);

        // A browser without credentials gets 401 for the page and for the post.
        var anonymous = await (await _browser!.NewContextAsync()).NewPageAsync();
        var navigation = await Assert.ThrowsAsync<PlaywrightException>(() => anonymous.GotoAsync(fixture.Silo.WebUrl + "/leases"));
        Assert.Contains("ERR_INVALID_AUTH_CREDENTIALS", navigation.Message, StringComparison.Ordinal); // Chromium's answer to a 401 it has no credentials for
        var response = await anonymous.APIRequest.GetAsync(fixture.Silo.WebUrl + "/leases");
        Assert.Equal(401, response.Status);
        var post = await anonymous.APIRequest.PostAsync(fixture.Silo.WebUrl + "/leases/force-release", new() { DataObject = new { name = prefix + "held", epoch = lease.Epoch, reason = "anonymous" } });
        Assert.Equal(401, post.Status);

        var info = await fixture.Locks.InspectAsync(prefix + "held");
        Assert.Equal((LockState.Held, lease.Epoch), (info.State, info.Epoch));
        Assert.DoesNotContain(await fixture.Locks.HistoryAsync(prefix + "held"), e => e.Event is "force-released" or "reset");
        await lease.DisposeAsync();
    }

    [Fact]
    public async Task AHostileLockName_RendersAsText_InTheTable_TheTimeline_AndTheHistory()
    {
        var prefix = Prefix("hostile");
        var name = prefix + "<img src=x onerror=alert(1)><b>bold</b>";
        var lease = (await fixture.Locks.TryAcquireAsync(name, TimeSpan.FromSeconds(30))).Handle!;
        var page = await OperatorPageAsync($"/leases?prefix={Uri.EscapeDataString(prefix)}");
        var dialogs = 0;
        page.Dialog += (_, _) => Interlocked.Increment(ref dialogs);

        await Assertions.Expect(page.Locator("#locks tr")).ToHaveCountAsync(1);
        Assert.Equal(name, await page.Locator("#locks tr td").First.TextContentAsync());
        await Assertions.Expect(page.Locator("#locks img, #locks b, #timeline img, #timeline b")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#timeline text").Filter(new() { HasTextRegex = new Regex(Regex.Escape("<img src=x")) })).ToHaveCountAsync(1);

        await page.Locator("#locks tr").First.ClickAsync();
        await Assertions.Expect(page.Locator("#history-title")).ToHaveTextAsync("history of " + name);
        await Assertions.Expect(page.Locator("#history img, #history b, #history-title img")).ToHaveCountAsync(0);
        Assert.Equal(0, dialogs);
        await lease.DisposeAsync();
    }
}
