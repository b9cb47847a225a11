using CycleLock.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace CycleLock.Tests.Sdk;

/// <summary>Registration, bad input to every public method, cancellation before acquire, abandoned acquires.</summary>
[Collection(SdkCollection.Name)]
public sealed class ClientContractTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AddCycleLockClient_BadOption_StopsTheStartNamingTheKey()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddCycleLockClient(c => c.UseLocalhostClustering(), o => o.AcquireTries = 0);
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("CycleLock:Client:AcquireTries = 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddCycleLockClient_RegistersTheClientOverOrleans_WithConfiguredOptions()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["CycleLock:Client:HolderLabel"] = "from-config";
        builder.AddCycleLockClient(c => c.UseLocalhostClustering(), o => o.DefaultTtl = TimeSpan.FromSeconds(30));
        using var host = builder.Build();
        var client = host.Services.GetRequiredService<CycleLockClient>();
        Assert.Equal(("from-config", TimeSpan.FromSeconds(30)), (client.Options.HolderLabel, client.Options.DefaultTtl));
        Assert.NotNull(host.Services.GetRequiredService<IClusterClient>());
    }

    [Fact]
    public async Task BadInput_EveryPublicMethod_TypedErrorNamingTheValue_NothingSent()
    {
        var locks = Locks("bad-input");
        var before = Fixture.Calls.Calls.Count;
        var good = NewName("bad");

        await Check<ArgumentException>("", () => locks.TryAcquireAsync(""));
        await Check<ArgumentException>("control charact", () => locks.TryAcquireAsync("bad\u0001name"));
        await Check<ArgumentOutOfRangeException>("-00:00:01", () => locks.TryAcquireAsync(good, TimeSpan.FromSeconds(-1)));
        await Check<ArgumentOutOfRangeException>("2.00:00:00", () => locks.TryAcquireAsync(good, TimeSpan.FromDays(2)));
        await Check<ArgumentOutOfRangeException>("-00:00:01", () => locks.AcquireAsync(good, Ttl, TimeSpan.FromSeconds(-1)));
        await Check<ArgumentNullException>("work", () => locks.WithRefreshingLockAsync<int>(good, Ttl, null!));
        await Check<ArgumentOutOfRangeException>("MaxHold", () => locks.WithRefreshingLockAsync(good, Ttl, (_, _) => Task.FromResult(0), new RefreshingLockOptions { MaxHold = TimeSpan.Zero }));
        await Check<ArgumentOutOfRangeException>("HeartbeatTimeout", () => locks.WithRefreshingLockAsync(good, Ttl, (_, _) => Task.FromResult(0), new RefreshingLockOptions { HeartbeatTimeout = TimeSpan.FromMilliseconds(1) }));
        await Check<ArgumentOutOfRangeException>("Epoch 0", () => locks.ForceReleaseAsync(good, 0, "why", "me"));
        await Check<ArgumentException>("reason is empty", () => locks.ForceReleaseAsync(good, 1, " ", "me"));
        await Check<ArgumentException>("control character", () => locks.ResetAsync(good, "op\nerator"));
        await Check<ArgumentOutOfRangeException>("limit 0", () => locks.HistoryAsync(good, 0));
        await Check<ArgumentNullException>("handler", () => locks.SubscribeAsync(null!));
        await Check<ArgumentOutOfRangeException>("-2", () => locks.SubscribeAsync((_, _) => ValueTask.CompletedTask, -2));
        var options = Assert.Throws<ArgumentException>(() => new CycleLockClient(Client, new CycleLockClientOptions { AcquireTries = 0, HolderLabel = "x\ty" }));
        Assert.Contains("AcquireTries = 0", options.Message, StringComparison.Ordinal);
        Assert.Contains("HolderLabel", options.Message, StringComparison.Ordinal);

        Assert.Equal(before, Fixture.Calls.Calls.Count);
        Assert.Equal("none", (await RowAsync(good)).State);
    }

    [Fact]
    public async Task CancelledBeforeAcquire_Throws_SendsNothing()
    {
        var name = NewName("pre-cancelled");
        var before = Fixture.Calls.Calls.Count;
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var locks = Locks("cancelled");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => locks.TryAcquireAsync(name, Ttl, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => locks.AcquireAsync(name, Ttl, TimeSpan.FromSeconds(5), cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => locks.WithRefreshingLockAsync(name, Ttl, (_, _) => Task.FromResult(0), cancellationToken: cancelled.Token));
        Assert.Equal(before, Fixture.Calls.Calls.Count);
        Assert.Equal("none", (await RowAsync(name)).State);
    }

    [Fact]
    public async Task AbandonedAcquire_GrantLandsLate_NoLeaseLeftBehind()
    {
        var name = NewName("late-grant");
        var store = Fixture.Store;
        store.After = async (operation, _) =>
        {
            if (operation == "acquire")
            {
                await Task.Delay(TimeSpan.FromSeconds(1.2)); // granted in the database; the reply lands after the SDK gave up
            }
        };
        try
        {
            var locks = Locks("impatient", new CycleLockClientOptions { AcquireCallTimeout = TimeSpan.FromMilliseconds(300), AcquireTries = 2 });
            await Assert.ThrowsAsync<TimeoutException>(() => locks.TryAcquireAsync(name, Ttl));
        }
        finally
        {
            store.After = null;
        }

        await Eventually(async () => (await HistoryAsync(name)).Any(h => h.Event == "released"), TimeSpan.FromSeconds(15), "the late grant released by the abandon");
        var history = await HistoryAsync(name);
        TestContext.Current.SendDiagnosticMessage("late grant history: " + string.Join(", ", history.Select(h => $"{h.Event}/{h.Reason}/{h.Epoch}")));
        Assert.Contains(history, h => h.Event == "granted");
        Assert.Contains(history, h => h.Event == "released" && h.Reason == "abandoned");
        var row = await RowAsync(name);
        Assert.Equal("free", row.State);
        var next = await Locks("next").TryAcquireAsync(name, Ttl);
        Assert.True(next.Acquired, next.ToString());
        await next.Handle!.ReleaseAsync();
    }

    private static async Task Check<TException>(string mentioned, Func<Task> call)
        where TException : ArgumentException
    {
        var e = await Assert.ThrowsAnyAsync<TException>(call);
        Assert.Contains(mentioned, e.Message, StringComparison.Ordinal);
    }
}
