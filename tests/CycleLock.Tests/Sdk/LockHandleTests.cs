using CycleLock.Client;

namespace CycleLock.Tests.Sdk;

/// <summary>The lock handle alone, over a scripted grain and a clock the test controls.</summary>
public sealed class LockHandleTests
{
    private const long Epoch = 7;
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ValidFor = TimeSpan.FromSeconds(5); // ht
    private readonly CycleLockClientOptions _options = new();
    private readonly ScriptedLockGrain _grain = new();
    private readonly HeldBackTimeProvider _time = new();

    // m_w = (TTL/20 + 250 ms)/2 = 375 ms, so a grant sent at s with vf = 5 s is valid until s + 4.625 s.
    private TimeSpan SdkMargin => _options.SdkMarginFor(Ttl);

    private (LockHandle Handle, (long, DateTimeOffset) Sent) Grant(bool start = false)
    {
        var sent = (_time.GetTimestamp(), _time.GetUtcNow());
        var reply = new AcquireReply(AcquireStatus.Granted, Epoch, ValidFor, Ttl, "h", TimeSpan.Zero, BusyReason.None, 0, 0);
        var handle = new LockHandle(_grain, "handle-test", Guid.NewGuid(), LeaseKey.New(), reply, sent, _time, _options);
        if (start)
        {
            handle.Start();
        }

        return (handle, sent);
    }

    private (long, DateTimeOffset) Now() => (_time.GetTimestamp(), _time.GetUtcNow());

    private static KeepAliveReply Held(TimeSpan validFor, long epoch = Epoch) => new(KeepAliveStatus.Held, epoch, validFor, null, null);

    [Fact]
    public void ValidUntil_IsSendTimePlusValidForMinusSdkMargin_NeverSendPlusTtl()
    {
        var start = _time.GetUtcNow();
        var (handle, _) = Grant();
        Assert.Equal(start + ValidFor - SdkMargin, handle.ValidUntil);
        Assert.Equal(ValidFor - SdkMargin, handle.Remaining);
    }

    [Fact]
    public void ValidUntil_SiloSendsItsMargin_TheSilosMarginIsUsedNotTheClientsFractions()
    {
        // A silo configured with a larger margin than the client's defaults: the grant carries it.
        var siloMargin = TimeSpan.FromSeconds(1.5);
        var start = _time.GetUtcNow();
        var reply = new AcquireReply(AcquireStatus.Granted, Epoch, ValidFor, Ttl, "h", TimeSpan.Zero, BusyReason.None, 0, 0,
            HolderTimeout: TimeSpan.FromSeconds(4), SdkMargin: siloMargin);

        var handle = new LockHandle(_grain, "handle-test", Guid.NewGuid(), LeaseKey.New(), reply, Now(), _time, _options);

        Assert.NotEqual(siloMargin, SdkMargin);
        Assert.Equal(start + ValidFor - siloMargin, handle.ValidUntil);
    }

    [Fact]
    public void PausedProcess_ClockPassesValidUntilWithTimersHeldBack_NextCallFindsItLost()
    {
        var (handle, _) = Grant();
        var token = handle.LostToken;
        Assert.Equal(LockHandleState.Held, handle.State);

        // The process is paused past ValidUntil: the clock moves, no timer fires (no keep-alive, no expiry timer).
        _time.Jump(ValidFor);
        Assert.False(token.IsCancellationRequested, "nothing may have fired yet: the decision must come from the clock on the next call");

        var thrown = Assert.Throws<LockLostException>(handle.EnsureHeld);
        Assert.True(token.IsCancellationRequested, "LostToken must be cancelled before EnsureHeld returns");
        Assert.Contains("valid-until passed", thrown.Message, StringComparison.Ordinal);
        Assert.Equal(LockHandleState.Lost, handle.State);
        Assert.Equal(0, _grain.KeepAlives);
    }

    [Fact]
    public async Task Release_EndsTheHandleBeforeTheReleaseIsSent()
    {
        var (handle, _) = Grant(start: true);
        var gate = new TaskCompletionSource();
        _grain.ReleaseGate = gate.Task;
        var token = handle.LostToken;
        var release = handle.ReleaseAsync();
        Assert.True(token.IsCancellationRequested, "LostToken must be cancelled before the release can commit");
        Assert.Equal(LockHandleState.Released, handle.State);
        Assert.Throws<LockLostException>(handle.EnsureHeld);
        gate.SetResult();
        Assert.Equal(ReleaseStatus.Released, (await release)!.Status);
    }

    [Fact]
    public async Task CallerStopsWaitingForRelease_TheReleaseStillCompletes_AndDisposeSharesIt()
    {
        var (handle, _) = Grant();
        var gate = new TaskCompletionSource();
        _grain.ReleaseGate = gate.Task;
        using var impatient = new CancellationTokenSource();
        var waiting = handle.ReleaseAsync(ReleaseReason.Completed, impatient.Token);
        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        gate.SetResult();
        await handle.DisposeAsync();
        Assert.Single(_grain.Releases);
        Assert.Equal(LockHandleState.Released, handle.State);
    }

    [Fact]
    public async Task ThrowingCallbacksAndHandlers_DoNotBreakTheHandle()
    {
        var (handle, _) = Grant();
        handle.StateChanged += (_, _) => throw new InvalidOperationException("handler bug");
        handle.Jeopardy += (_, _) => throw new InvalidOperationException("handler bug");
        handle.LostToken.Register(() => throw new InvalidOperationException("callback bug"));
        handle.ApplyReply(new KeepAliveReply(KeepAliveStatus.Uncertain, Epoch, TimeSpan.Zero, null, "x"), Now());
        Assert.Equal(LockHandleState.InJeopardy, handle.State);
        Assert.Equal(ReleaseStatus.Released, (await handle.ReleaseAsync())!.Status);
        Assert.Single(_grain.Releases);
    }

    [Fact]
    public void PausedProcess_AnyMemberCall_CancelsLostTokenBeforeItReturns()
    {
        var (handle, _) = Grant();
        var token = handle.LostToken;
        _time.Jump(ValidFor - SdkMargin + TimeSpan.FromMilliseconds(1));
        Assert.False(token.IsCancellationRequested);
        Assert.Equal(LockHandleState.Lost, handle.State);
        Assert.True(token.IsCancellationRequested);
    }

    [Fact]
    public void ExpiryTimer_FiresLostTokenAtValidUntilWithoutAnyCall()
    {
        var (handle, _) = Grant();
        var token = handle.LostToken;
        _time.AdvanceTimers(ValidFor - SdkMargin - TimeSpan.FromMilliseconds(1));
        Assert.False(token.IsCancellationRequested, "fired before ValidUntil");
        _time.AdvanceTimers(TimeSpan.FromMilliseconds(1));
        Assert.True(token.IsCancellationRequested, "did not fire at ValidUntil");
    }

    [Fact]
    public void HeldReply_ExtendsFromItsOwnSendTime()
    {
        var (handle, _) = Grant();
        _time.AdvanceTimers(TimeSpan.FromSeconds(1));
        var sent = Now();
        _time.AdvanceTimers(TimeSpan.FromMilliseconds(300)); // the reply took 300 ms
        handle.ApplyReply(Held(ValidFor), sent);
        Assert.Equal(sent.Item2 + ValidFor - SdkMargin, handle.ValidUntil);
    }

    [Fact]
    public void HeldAfterLost_DoesNotReviveOrExtend()
    {
        var (handle, _) = Grant();
        var sentEarly = Now();
        _time.AdvanceTimers(TimeSpan.FromSeconds(1));
        handle.ApplyReply(new KeepAliveReply(KeepAliveStatus.Lost, Epoch, TimeSpan.Zero, null, "re-granted"), Now());
        var lostAt = handle.ValidUntil;
        handle.ApplyReply(Held(ValidFor), sentEarly); // the late "held" of an earlier keep-alive
        handle.ApplyReply(Held(ValidFor), Now());
        Assert.Equal(LockHandleState.Lost, handle.State);
        Assert.True(handle.LostToken.IsCancellationRequested);
        Assert.True(handle.ValidUntil <= lostAt, $"ValidUntil moved from {lostAt:O} to {handle.ValidUntil:O}");
        Assert.Equal("re-granted", handle.EndReason);
    }

    [Fact]
    public void ReplyForAnotherEpoch_IsALossAndNeverExtends()
    {
        var (handle, _) = Grant();
        var before = handle.ValidUntil;
        _time.AdvanceTimers(TimeSpan.FromSeconds(1));
        handle.ApplyReply(Held(ValidFor, epoch: Epoch + 1), Now());
        Assert.Equal(LockHandleState.Lost, handle.State);
        Assert.True(handle.LostToken.IsCancellationRequested);
        Assert.True(handle.ValidUntil <= before);
    }

    [Fact]
    public async Task ReplyAfterRelease_DoesNotExtendOrRevive()
    {
        var (handle, _) = Grant();
        var sent = Now();
        Assert.Equal(ReleaseStatus.Released, (await handle.ReleaseAsync())!.Status);
        var after = handle.ValidUntil;
        _time.AdvanceTimers(TimeSpan.FromSeconds(1));
        handle.ApplyReply(Held(ValidFor), sent);
        handle.ApplyReply(Held(ValidFor), Now());
        Assert.Equal(LockHandleState.Released, handle.State);
        Assert.True(handle.ValidUntil <= after);
        Assert.True(handle.LostToken.IsCancellationRequested);
    }

    [Fact]
    public void UncertainAndRenewFailing_AreJeopardyNotLoss_AndHeldReturnsToHeld()
    {
        var (handle, _) = Grant();
        var jeopardy = 0;
        handle.Jeopardy += (_, _) => jeopardy++;
        handle.ApplyReply(new KeepAliveReply(KeepAliveStatus.Uncertain, Epoch, TimeSpan.Zero, null, "deadline"), Now());
        Assert.Equal(LockHandleState.InJeopardy, handle.State);
        handle.ApplyReply(Held(ValidFor), Now());
        Assert.Equal(LockHandleState.Held, handle.State);
        handle.ApplyReply(new KeepAliveReply(KeepAliveStatus.Held, Epoch, ValidFor, DateTimeOffset.UtcNow, null), Now());
        Assert.Equal(LockHandleState.InJeopardy, handle.State);
        Assert.False(handle.LostToken.IsCancellationRequested);
        Assert.Equal(2, jeopardy);
    }

    [Fact]
    public void Moved_IsNotLoss_AndDoesNotExtend()
    {
        var (handle, _) = Grant();
        var before = handle.ValidUntil;
        _time.AdvanceTimers(TimeSpan.FromSeconds(1));
        for (var i = 0; i < _options.MaxMovedRetries + 5; i++)
        {
            handle.ApplyReply(new KeepAliveReply(KeepAliveStatus.Moved, Epoch, TimeSpan.Zero, null, "moved"), Now());
        }

        Assert.Equal(before, handle.ValidUntil);
        Assert.Equal(LockHandleState.InJeopardy, handle.State); // bounded fast retries, then jeopardy
        Assert.False(handle.LostToken.IsCancellationRequested);
    }

    [Fact]
    public async Task DisposeTwice_ReleasesOnceAsCompleted()
    {
        var (handle, _) = Grant();
        await handle.DisposeAsync();
        await handle.DisposeAsync();
        var release = Assert.Single(_grain.Releases);
        Assert.Equal(ReleaseReason.Completed, release.Reason);
        Assert.Equal(LockHandleState.Released, handle.State);
    }

    [Fact]
    public async Task ReleaseAfterClockLoss_ReleasesAsLeaseLost_NothingLeftBehind()
    {
        var (handle, _) = Grant();
        _time.Jump(ValidFor);
        Assert.Equal(LockHandleState.Lost, handle.State);
        await handle.ReleaseAsync(ReleaseReason.Completed);
        var release = Assert.Single(_grain.Releases);
        Assert.Equal(ReleaseReason.LeaseLost, release.Reason); // the work did not finish under ownership: burns nothing
        Assert.Equal(LockHandleState.Lost, handle.State);
    }

    [Fact]
    public async Task ReleaseAfterDefiniteLoss_SendsNothing()
    {
        var (handle, _) = Grant();
        handle.ApplyReply(new KeepAliveReply(KeepAliveStatus.Lost, Epoch, TimeSpan.Zero, null, "force-released"), Now());
        Assert.Null(await handle.ReleaseAsync());
        await handle.DisposeAsync();
        Assert.Empty(_grain.Releases);
    }

    [Fact]
    public async Task Release_BadReason_TypedErrorNamingTheValue()
    {
        var (handle, _) = Grant();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => { _ = handle.ReleaseAsync(ReleaseReason.Stalled); });
        Assert.Contains("Stalled", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = handle.ReleaseAsync((ReleaseReason)99); });
        Assert.Empty(_grain.Releases);
        Assert.Equal(LockHandleState.Held, handle.State);
        await handle.DisposeAsync();
    }
}
