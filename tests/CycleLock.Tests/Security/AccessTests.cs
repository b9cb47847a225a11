using Npgsql;

namespace CycleLock.Tests.Security;

/// <summary>
/// A silo with credentials configured checks every client call before it runs (issue 15): no credential, a
/// wrong secret, an operator call from a worker, a lock outside a worker's prefixes — each refused with
/// <see cref="CycleLockAccessDeniedException"/> naming the rule, and nothing changes in the lease row or history.
/// </summary>
[Collection(AccessCollection.Name)]
public sealed class AccessTests(AccessClusterFixture fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    private static string NewName(string prefix) => $"{prefix}/{Guid.NewGuid():N}";

    [Fact]
    public async Task NoCredential_EveryCallIsRefused_AndNothingIsWritten()
    {
        var name = NewName("billing");
        var grain = fixture.Anonymous.GetGrain<ICycleLockGrain>(name);

        var acquire = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => grain.TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "intruder", LeaseKey.New(), Ttl)));
        var inspect = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => grain.InspectAsync());
        var list = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => fixture.Anonymous.GetGrain<ILockAdminGrain>(0).ListAsync(null, 10));
        var management = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => fixture.Anonymous.GetGrain<IManagementGrain>(0).GetHosts());

        Assert.All([acquire, inspect, list, management], e =>
        {
            Assert.Equal("credential-required", e.Rule);
            Assert.Null(e.Credential);
            Assert.Contains("rule: credential-required", e.Message, StringComparison.Ordinal);
        });
        Assert.Equal("ICycleLockGrain.TryAcquireAsync", acquire.Call);
        Assert.Equal(0, await RowsAsync(name));
    }

    [Fact]
    public async Task WrongSecret_IsRefused_WithoutShowingIt()
    {
        const string guess = "billing-guessed-secret-123456";
        var (client, _) = await fixture.ConnectAsync("billing:" + guess);
        var name = NewName("billing");

        var error = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => client.Grain(name).TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "guess", LeaseKey.New(), Ttl)));

        Assert.Equal("unknown-credential", error.Rule);
        Assert.Equal("billing", error.Credential);
        Assert.DoesNotContain(guess, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(AccessClusterFixture.BillingSecret, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await RowsAsync(name));
    }

    [Fact]
    public async Task Worker_AcquiresInsideItsPrefixes_AndIsRefusedOutside_WithoutChangingAnything()
    {
        var mine = NewName("billing");
        var theirs = NewName("reports");
        await using var held = (await fixture.Reports.TryAcquireAsync(theirs, Ttl)).Handle!;
        var before = await fixture.Operator.InspectAsync(theirs);
        var historyBefore = await HistoryCountAsync(theirs);

        var granted = await fixture.Billing.TryAcquireAsync(mine, Ttl);
        var grain = fixture.Billing.Grain(theirs);
        var acquire = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => grain.TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "billing", LeaseKey.New(), Ttl)));
        var keepAlive = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(async () => await grain.KeepAliveAsync(new KeepAliveRequest(held.HolderId, LeaseKey.New(), held.Epoch)));
        var release = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => grain.ReleaseAsync(new ReleaseRequest(held.HolderId, LeaseKey.New(), held.Epoch, ReleaseReason.Completed)));
        var wait = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => fixture.Billing.AcquireAsync(theirs, Ttl, TimeSpan.FromSeconds(2)));
        var outside = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => fixture.Billing.TryAcquireAsync(NewName("payroll"), Ttl));

        Assert.True(granted.Acquired, granted.ToString());
        await granted.Handle!.DisposeAsync();
        Assert.All([acquire, keepAlive, release, wait, outside], e =>
        {
            Assert.Equal("outside-prefixes", e.Rule);
            Assert.Equal("billing", e.Credential);
            Assert.Contains("billing/*", e.Message, StringComparison.Ordinal);
        });
        var after = await fixture.Operator.InspectAsync(theirs);
        Assert.Equal((before.State, before.Epoch, before.HolderId), (after.State, after.Epoch, after.HolderId));
        Assert.Equal(historyBefore, await HistoryCountAsync(theirs));
        Assert.True((await fixture.Reports.TryAcquireAsync("shared", Ttl)).Acquired, "an exact-name pattern matches that name");
    }

    [Fact]
    public async Task Worker_CannotForceReleaseOrReset_AndTheLeaseStaysHeld()
    {
        var name = NewName("billing");
        await using var held = (await fixture.Billing.TryAcquireAsync(name, Ttl)).Handle!;

        var force = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => fixture.Billing.ForceReleaseAsync(name, held.Epoch, "take it", "billing"));
        var reset = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => fixture.Billing.ResetAsync(name, "billing"));
        var events = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => fixture.BillingCluster.GetGrain<IManagementGrain>(0).GetHosts());

        Assert.All([force, reset], e => Assert.Equal("operator-only", e.Rule));
        Assert.Equal("ILockOperatorGrain.ForceReleaseAsync", force.Call);
        Assert.Equal("operator-only", events.Rule);
        var info = await fixture.Operator.InspectAsync(name);
        Assert.Equal((LockState.Held, held.Epoch, held.HolderId), (info.State, info.Epoch, info.HolderId));
        Assert.DoesNotContain(await fixture.Operator.HistoryAsync(name), e => e.Event == "force-released");
    }

    [Fact]
    public async Task Operator_ForceRelease_RecordsTheAuthenticatedOperatorNextToTheDeclaredBy()
    {
        var name = NewName("billing");
        var held = (await fixture.Billing.TryAcquireAsync(name, Ttl)).Handle!;

        var reply = await fixture.Operator.ForceReleaseAsync(name, held.Epoch, "stuck", "claims-to-be-alice");

        Assert.Equal(ForceReleaseStatus.Released, reply.Status);
        var entry = Assert.Single(await fixture.Operator.HistoryAsync(name), e => e.Event == "force-released");
        Assert.Equal(("claims-to-be-alice", "ops"), (entry.By, entry.Operator));
    }

    [Fact]
    public async Task TheCredential_NeverTravelsOnToAnotherClientsWaiter()
    {
        var name = NewName("billing");
        var holder = (await fixture.Billing.TryAcquireAsync(name, Ttl)).Handle!;
        var spy = new CredentialSpy();
        var waiter = fixture.Anonymous.CreateObjectReference<ILockWaiter>(spy);
        var (other, _) = await fixture.ConnectAsync("ops:" + AccessClusterFixture.OperatorSecret);
        await other.Grain(name).WaitAsync(new WaitRequest(Guid.NewGuid(), "spy", Ttl, waiter));

        await holder.ReleaseAsync(); // the release's own call offers the lock to the waiter

        var offer = await spy.Offered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(LockOfferKind.Offer, offer.Offer.Kind);
        Assert.Null(offer.Credential);
        Assert.Null(offer.Operator);
    }

    [Fact]
    public async Task EventFeed_OneClientHoldsAtMost16Subscriptions_AnotherStillSubscribes()
    {
        var (_, greedy) = await fixture.ConnectAsync("ops:" + AccessClusterFixture.OperatorSecret);
        var (_, other) = await fixture.ConnectAsync("billing:" + AccessClusterFixture.BillingSecret);
        var feed = greedy.GetGrain<ILockEventsGrain>(ILockEventsGrain.DefaultKey);
        var observers = Enumerable.Range(0, 17).Select(_ => greedy.CreateObjectReference<ILockEventObserver>(new NoEvents())).ToList();

        for (var i = 0; i < 16; i++)
        {
            await feed.SubscribeAsync(observers[i], -1, 0, 0);
        }

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => feed.SubscribeAsync(observers[16], -1, 0, 0));
        var theirs = other.CreateObjectReference<ILockEventObserver>(new NoEvents());
        await other.GetGrain<ILockEventsGrain>(ILockEventsGrain.DefaultKey).SubscribeAsync(theirs, -1, 0, 0);

        Assert.Contains("at most 16 per client", refused.Message, StringComparison.Ordinal);
        Assert.True(await feed.UnsubscribeAsync(observers[0]));
        await feed.SubscribeAsync(observers[16], -1, 0, 0); // room again after an unsubscribe
        foreach (var observer in observers.Skip(1))
        {
            await feed.UnsubscribeAsync(observer);
        }

        await feed.UnsubscribeAsync(theirs);
    }

    [Fact]
    public async Task ServerErrors_ReachTheClientWithoutTheSilosStackTrace()
    {
        var grain = fixture.Billing.Grain(NewName("billing"));

        // Sent raw (the SDK would refuse it before sending): the grain's own check throws.
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "bad", LeaseKey.New(), TimeSpan.FromDays(2))));
        var denied = await Assert.ThrowsAsync<CycleLockAccessDeniedException>(() => fixture.Billing.Grain(NewName("payroll")).InspectAsync());

        Assert.Contains("rule", error.Message, StringComparison.Ordinal);
        foreach (var e in new Exception[] { error, denied })
        {
            var trace = e.StackTrace ?? string.Empty;
            Assert.DoesNotContain("CycleLock.Security", trace, StringComparison.Ordinal);
            Assert.DoesNotContain("RequestRules", trace, StringComparison.Ordinal);
            Assert.DoesNotContain("CycleLockGrain", trace, StringComparison.Ordinal);
            Assert.DoesNotContain("/src/Grains/", trace, StringComparison.Ordinal);
            Assert.Null(e.InnerException);
        }
    }

    [Theory]
    [InlineData("long")]
    [InlineData("billing/zero\u200Bwidth")]
    [InlineData("billing/not-nfc-e\u0301")]
    [InlineData("billing/replacement-\uFFFD")]
    public async Task BadNames_AreRefusedBeforeAnActivationExists_WithAShortTypedError(string name)
    {
        name = name == "long" ? "billing/" + new string('x', 2_000) + Guid.NewGuid().ToString("N") : name;
        var grain = fixture.Anonymous.GetGrain<ICycleLockGrain>(name);

        // Refused at placement, before the access filter or the grain: even a caller without a credential gets the name's rule.
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.InspectAsync());

        Assert.Contains("rule", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Length < 600, $"the error is {error.Message.Length} characters long");
        Assert.Null(await fixture.OperatorCluster.GetGrain<IManagementGrain>(0).GetActivationAddress(grain));
        Assert.DoesNotContain(new string('x', 200), fixture.Silo.Output, StringComparison.Ordinal);
        Assert.Equal(0, await RowsAsync(name.Length > 300 ? "never-stored" : name));
    }

    [Fact]
    public async Task AMegabyteName_IsRefusedAsItsFrameIsRead_NoPlacementNoActivationNoLogOfIt_AndTheSiloServesOn()
    {
        // Its own client: the silo closes the connection the oversized frame came on.
        var (locks, cluster) = await fixture.ConnectAsync("billing:" + AccessClusterFixture.BillingSecret);
        var name = "billing/" + new string('y', 1_000_000);

        await Assert.ThrowsAnyAsync<Exception>(() => cluster.GetGrain<ICycleLockGrain>(name).InspectAsync().WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains("MaxMessageHeaderSize", fixture.Silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('y', 200), fixture.Silo.Output, StringComparison.Ordinal);
        Assert.Equal(LockState.Free, (await fixture.Billing.InspectAsync("billing/after-the-megabyte")).State);
        _ = locks;
    }

    private async Task<long> RowsAsync(string name)
    {
        await using var command = fixture.Postgres.DataSource.CreateCommand("SELECT count(*) FROM cyclelock.lease WHERE service_id = $1 AND name = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = fixture.ServiceId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> HistoryCountAsync(string name)
    {
        await using var command = fixture.Postgres.DataSource.CreateCommand("SELECT count(*) FROM cyclelock.history WHERE service_id = $1 AND name = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = fixture.ServiceId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private sealed class NoEvents : ILockEventObserver
    {
        public Task OnEventsAsync(LockEvent[] events, long safeCursor, int generation, long sequence) => Task.CompletedTask;
    }

    private sealed class CredentialSpy : ILockWaiter
    {
        public TaskCompletionSource<(LockOffer Offer, object? Credential, object? Operator)> Offered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task OfferAsync(LockOffer offer)
        {
            Offered.TrySetResult((offer, RequestContext.Get(AccessContext.CredentialKey), RequestContext.Get(AccessContext.OperatorKey)));
            return Task.CompletedTask;
        }
    }
}
