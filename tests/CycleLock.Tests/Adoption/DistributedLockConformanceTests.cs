using System.Diagnostics;
using CycleLock.Client;
using CycleLock.DistributedLock;
using CycleLock.Tests.Sdk;
using Medallion.Threading;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CycleLock.Tests.Adoption;

/// <summary>
/// The <see cref="IDistributedLockProvider"/> contract, written from DistributedLock.Core's documentation, run
/// against CycleLock (a real cluster and PostgreSQL): timeouts (zero tries once, null waits without a limit, a
/// negative one is refused), cancellation before and during a wait, a second acquire of a held name, the lost
/// token on a force-release and on expiry, disposal, and many names and threads at once.
/// </summary>
[Collection(SdkCollection.Name)]
public sealed class DistributedLockConformanceTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(5);

    private CycleLockDistributedLockProvider Provider(string label, out CycleLockClient client)
    {
        client = Locks(label);
        return new CycleLockDistributedLockProvider(client, Ttl);
    }

    private CycleLockDistributedLockProvider Provider(string label) => Provider(label, out _);

    [Fact]
    public async Task TryAcquire_WithTheDefaultZeroTimeout_TriesOnce_NullWhileHeld_AHandleOnceFree()
    {
        var name = NewName("dl-try");
        var holder = await Provider("dl-holder").CreateLock(name).TryAcquireAsync();
        Assert.NotNull(holder);

        var other = Provider("dl-other", out var otherClient);
        var started = Stopwatch.GetTimestamp();
        Assert.Null(await other.CreateLock(name).TryAcquireAsync());
        Assert.Null(other.CreateLock(name).TryAcquire());
        var took = Stopwatch.GetElapsedTime(started);
        Assert.Equal(0, otherClient.WaitRegistrations); // one try each: it never joined the waiting queue
        Assert.True(took < TimeSpan.FromSeconds(2), $"two single tries took {took.TotalMilliseconds:0} ms");

        await holder.DisposeAsync();
        await using var next = await other.CreateLock(name).TryAcquireAsync();
        Assert.NotNull(next);
        Assert.True(next.Epoch > holder.Epoch, $"epoch {next.Epoch} after {holder.Epoch}");
    }

    [Fact]
    public async Task Acquire_WithNoTimeout_WaitsUntilTheHolderReleases()
    {
        var name = NewName("dl-wait");
        var holder = await Provider("dl-holder").CreateLock(name).AcquireAsync();
        var waiting = Provider("dl-waiter").CreateLock(name).AcquireAsync().AsTask();
        await Task.Delay(700);
        Assert.False(waiting.IsCompleted, "Acquire(null) returned while the lock was held");

        await holder.DisposeAsync();
        var released = Stopwatch.GetTimestamp();
        await using var handle = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        TestContext.Current.SendDiagnosticMessage($"waiter granted {Stopwatch.GetElapsedTime(released).TotalMilliseconds:0} ms after the release");
        Assert.True(handle.Epoch > holder.Epoch);
        Assert.Equal("dl-waiter", (await Locks("reader").InspectAsync(name)).HolderLabel);
    }

    [Fact]
    public async Task Acquire_SyncWithNoTimeout_WaitsToo_AndReturnsTheHandle()
    {
        var name = NewName("dl-sync-wait");
        var holder = Provider("dl-holder").CreateLock(name).Acquire();
        var waiting = Task.Run(() => Provider("dl-sync").CreateLock(name).Acquire());
        await Task.Delay(700);
        Assert.False(waiting.IsCompleted);
        holder.Dispose();
        using var handle = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(handle.Epoch > holder.Epoch);
    }

    [Fact]
    public async Task AFiniteTimeout_WhileHeld_IsNullForTryAndTimeoutExceptionForAcquire_AfterTheTimeout()
    {
        var name = NewName("dl-timeout");
        await using var holder = await Provider("dl-holder").CreateLock(name).AcquireAsync();
        var other = Provider("dl-other").CreateLock(name);
        var timeout = TimeSpan.FromMilliseconds(800);

        var started = Stopwatch.GetTimestamp();
        Assert.Null(await other.TryAcquireAsync(timeout));
        var tried = Stopwatch.GetElapsedTime(started);
        Assert.InRange(tried, timeout - TimeSpan.FromMilliseconds(50), timeout + TimeSpan.FromSeconds(3));

        started = Stopwatch.GetTimestamp();
        var error = await Assert.ThrowsAsync<TimeoutException>(async () => await other.AcquireAsync(timeout));
        Assert.InRange(Stopwatch.GetElapsedTime(started), timeout - TimeSpan.FromMilliseconds(50), timeout + TimeSpan.FromSeconds(3));
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.Throws<TimeoutException>(() => other.Acquire(timeout));
        Assert.Equal("dl-holder", (await Locks("reader").InspectAsync(name)).HolderLabel);
    }

    [Fact]
    public async Task AcquireWithAZeroTimeout_WhileHeld_ThrowsTimeoutException_AfterOneTry()
    {
        var name = NewName("dl-zero");
        await using var holder = await Provider("dl-holder").CreateLock(name).AcquireAsync();
        var other = Provider("dl-other", out var client).CreateLock(name);
        await Assert.ThrowsAsync<TimeoutException>(async () => await other.AcquireAsync(TimeSpan.Zero));
        Assert.Throws<TimeoutException>(() => other.Acquire(TimeSpan.Zero));
        Assert.Equal(0, client.WaitRegistrations);
    }

    [Fact]
    public async Task CancellationDuringAFiniteWait_OrASyncWait_Throws_AndTakesNothing()
    {
        var name = NewName("dl-cancel-finite");
        await using var holder = await Provider("dl-holder").CreateLock(name).AcquireAsync();
        var other = Provider("dl-other").CreateLock(name);

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var started = Stopwatch.GetTimestamp();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await other.TryAcquireAsync(TimeSpan.FromSeconds(30), cancel.Token));
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(5), "a finite wait did not end on cancellation");

        using var cancelSync = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        started = Stopwatch.GetTimestamp();
        Assert.ThrowsAny<OperationCanceledException>(() => other.Acquire(null, cancelSync.Token));
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(5), "a sync wait without a limit did not end on cancellation");
        Assert.Equal("dl-holder", (await Locks("reader").InspectAsync(name)).HolderLabel);
    }

    [Fact]
    public async Task AClusterThatDoesNotAnswer_EndsAOneShotTryWithinOneCallTimeout_WithATimeoutExceptionSayingSo()
    {
        var name = NewName("dl-unanswered");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Fixture.Store.Before = async (operation, _) =>
        {
            if (operation == "acquire")
            {
                await gate.Task; // every acquire reaching the store hangs: the grain never answers
            }
        };
        try
        {
            var lockOf = Provider("dl-unanswered", out var client).CreateLock(name);
            var started = Stopwatch.GetTimestamp();
            var error = await Assert.ThrowsAsync<TimeoutException>(async () => await lockOf.TryAcquireAsync());
            var took = Stopwatch.GetElapsedTime(started);
            TestContext.Current.SendDiagnosticMessage($"unanswered one-shot try ended after {took.TotalMilliseconds:0} ms: {error.Message}");
            Assert.Contains("no answer from the cluster", error.Message, StringComparison.Ordinal);

            // Without the bound the SDK's own retries (8 tries, 2 s growing to 5 s each) would take about 45 s.
            Assert.True(took < client.Options.AcquireCallTimeout + TimeSpan.FromSeconds(2), $"a one-shot try took {took.TotalMilliseconds:0} ms with no answer (rule: at most one call timeout, {client.Options.AcquireCallTimeout})");
        }
        finally
        {
            Fixture.Store.Before = null;
            gate.TrySetResult();
        }
    }

    [Fact]
    public async Task NegativeTimeouts_AreRefusedNamingTheRule_InfiniteIsAWaitWithoutLimit()
    {
        var name = NewName("dl-negative");
        var lockOf = Provider("dl-neg").CreateLock(name);
        foreach (var bad in new[] { TimeSpan.FromMilliseconds(-2), TimeSpan.FromSeconds(-1), TimeSpan.FromDays(30) })
        {
            var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await lockOf.TryAcquireAsync(bad));
            Assert.Contains("rule:", e.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentOutOfRangeException>(() => lockOf.Acquire(bad));
        }

        Assert.Equal("none", (await RowAsync(name)).State); // a refused call sent nothing
        await using var handle = await lockOf.TryAcquireAsync(Timeout.InfiniteTimeSpan);
        Assert.NotNull(handle);
    }

    [Fact]
    public async Task ACancelledToken_BeforeTheCall_ThrowsAndTakesNothing()
    {
        var name = NewName("dl-cancelled");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var lockOf = Provider("dl-cancel").CreateLock(name);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await lockOf.TryAcquireAsync(default, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await lockOf.AcquireAsync(null, cancelled.Token));
        Assert.ThrowsAny<OperationCanceledException>(() => lockOf.Acquire(null, cancelled.Token));
        Assert.Equal("none", (await RowAsync(name)).State);
    }

    [Fact]
    public async Task CancellationDuringAWait_Throws_AndTheWaiterNeverGetsTheLockAfterwards()
    {
        var name = NewName("dl-cancel-wait");
        var holder = await Provider("dl-holder").CreateLock(name).AcquireAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(600));
        var started = Stopwatch.GetTimestamp();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await Provider("dl-gave-up").CreateLock(name).AcquireAsync(null, cancel.Token));
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(3), "the wait did not end promptly on cancellation");

        // The cancelled waiter left the queue: a one-shot try right after the release is granted. Had the waiter
        // stayed queued, the freed lock would be offered to it and the try answered busy (waiters ahead).
        await holder.DisposeAsync();
        await using var next = await Provider("dl-next").CreateLock(name).TryAcquireAsync();
        Assert.NotNull(next);
        Assert.Equal("dl-next", (await Locks("reader").InspectAsync(name)).HolderLabel);
        Assert.Equal(2, (await HistoryAsync(name)).Count(h => h.Event == "granted")); // the holder's and the next one's
    }

    [Fact]
    public async Task ASecondAcquireOfAHeldName_FromTheSameProvider_IsRefusedOrWaits_NotReentrant()
    {
        var name = NewName("dl-reentrant");
        var provider = Provider("dl-same");
        var first = await provider.CreateLock(name).AcquireAsync();
        Assert.Null(await provider.CreateLock(name).TryAcquireAsync());
        Assert.Null(await provider.CreateLock(name).TryAcquireAsync(TimeSpan.FromMilliseconds(300)));

        var second = provider.CreateLock(name).AcquireAsync().AsTask();
        await Task.Delay(500);
        Assert.False(second.IsCompleted, "a second acquire of a held name was granted at once (reentrant)");
        await first.DisposeAsync();
        await using var handle = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(handle.Epoch > first.Epoch);
    }

    [Fact]
    public async Task HandleLostToken_Fires_WhenAnOperatorForceReleases()
    {
        var name = NewName("dl-forced");
        var provider = Provider("dl-forced", out var client);
        await using var handle = await provider.CreateLock(name).AcquireAsync();
        Assert.True(handle.HandleLostToken.CanBeCanceled);
        Assert.False(handle.HandleLostToken.IsCancellationRequested);

        var reply = await client.ForceReleaseAsync(name, handle.Epoch, "test: conformance", "operator");
        Assert.Equal(ForceReleaseStatus.Released, reply.Status);
        await WhenCancelled(handle.HandleLostToken).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("force-released", handle.Lease.EndReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HandleLostToken_Fires_WhenTheLeaseExpires_BecauseTheHolderCanNoLongerRenewIt()
    {
        var name = NewName("dl-expired");
        await using var handle = await Provider("dl-expiring").CreateLock(name).AcquireAsync();

        // Every renewal of the row blocks (a transaction holds it FOR UPDATE): the holder can no longer keep the
        // lease, and its promise runs out within the TTL.
        await using var connection = await Postgres.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM cyclelock.lease WHERE service_id = $1 AND name = $2 FOR UPDATE", connection, transaction))
        {
            lockRow.Parameters.Add(new NpgsqlParameter { Value = ServiceId });
            lockRow.Parameters.Add(new NpgsqlParameter { Value = name });
            await lockRow.ExecuteNonQueryAsync();
        }

        var blocked = Stopwatch.GetTimestamp();
        await WhenCancelled(handle.HandleLostToken).WaitAsync(Ttl + TimeSpan.FromSeconds(5));
        var after = Stopwatch.GetElapsedTime(blocked);
        await transaction.RollbackAsync();
        TestContext.Current.SendDiagnosticMessage($"lost token {after.TotalMilliseconds:0} ms after renewals stopped: {handle.Lease.EndReason}");
        Assert.True(after <= Ttl, $"the lost token fired {after.TotalMilliseconds:0} ms after renewals stopped, later than the TTL {Ttl}");
    }

    [Fact]
    public async Task Dispose_Releases_WithoutFiringTheLostToken_AndDisposingAgainIsHarmless_SyncOrAsync()
    {
        var name = NewName("dl-dispose");
        var lockOf = Provider("dl-dispose").CreateLock(name);
        var handle = lockOf.Acquire();
        var lost = handle.HandleLostToken;
        handle.Dispose();
        handle.Dispose();
        await handle.DisposeAsync();
        Assert.Equal("free", (await RowAsync(name)).State);
        Assert.Throws<ObjectDisposedException>(() => handle.HandleLostToken);
        Assert.False(lost.IsCancellationRequested, "HandleLostToken fired for the release that disposing is (the contract: a loss before disposal)");
        Assert.Single(await HistoryAsync(name), h => h.Event == "released");

        await using var again = await lockOf.TryAcquireAsync();
        Assert.NotNull(again);
    }

    [Fact]
    public async Task ManyNamesAndThreads_AtOnce_NeverTwoHoldersOfOneName_AndEveryGrantRecorded()
    {
        var names = Enumerable.Range(0, 6).Select(i => NewName("dl-many")).ToArray();
        var inside = new int[names.Length];
        var grants = 0;
        var overlaps = 0;
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 4);
        var workers = Enumerable.Range(0, 12).Select(w => Task.Run(async () =>
        {
            var provider = (IDistributedLockProvider)Provider($"dl-many-{w}");
            var random = new Random(w);
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var i = random.Next(names.Length);
                var handle = w % 2 == 0
                    ? await provider.AcquireLockAsync(names[i], TimeSpan.FromSeconds(20))
                    : provider.AcquireLock(names[i], TimeSpan.FromSeconds(20)); // the sync path on a pool thread
                if (Interlocked.Increment(ref inside[i]) != 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                Interlocked.Increment(ref grants);
                await Task.Delay(random.Next(1, 5));
                Interlocked.Decrement(ref inside[i]);
                if (w % 2 == 0)
                {
                    await handle.DisposeAsync();
                }
                else
                {
                    handle.Dispose();
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(90));

        TestContext.Current.SendDiagnosticMessage($"{grants} grants over {names.Length} names by 12 workers");
        Assert.Equal(0, overlaps);
        Assert.True(grants >= names.Length, $"only {grants} grants");
        var recorded = 0;
        foreach (var name in names)
        {
            var history = await HistoryAsync(name);
            recorded += history.Count(h => h.Event == "granted");
            Assert.Equal(history.Count(h => h.Event == "granted"), history.Count(h => h.Event == "released"));
        }

        Assert.Equal(grants, recorded);
    }

    [Fact]
    public async Task TheProviderRegistration_AndTheAbstractionsExtensions_ReachCycleLock()
    {
        var services = new ServiceCollection();
        services.AddSingleton(Locks("dl-di"));
        services.AddCycleLockDistributedLockProvider(Ttl);
        await using var provider = services.BuildServiceProvider();
        var locks = provider.GetRequiredService<IDistributedLockProvider>();
        Assert.Same(provider.GetRequiredService<CycleLockDistributedLockProvider>(), locks);

        var name = NewName("dl-di");
        await using (var handle = await locks.AcquireLockAsync(name))
        {
            Assert.IsType<CycleLockDistributedLockHandle>(handle);
            Assert.Equal("dl-di", (await Locks("reader").InspectAsync(name)).HolderLabel);
            Assert.Null(await locks.TryAcquireLockAsync(name));
        }

        using var sync = locks.TryAcquireLock(name);
        Assert.NotNull(sync);
        Assert.Equal(name, locks.CreateLock(name).Name);
    }

    [Theory]
    [InlineData("")]
    [InlineData("job-\u202egnp.exe")]
    [InlineData("bad\u0001name")]
    public void AnInvalidName_IsRefusedAtCreateLock_NamingTheRule(string name)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => ((IDistributedLockProvider)Provider("dl-bad")).CreateLock(name));
        Assert.Contains("rule", e.Message, StringComparison.Ordinal);
    }
}
