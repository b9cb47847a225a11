namespace CycleLock.Tests.Sdk;

/// <summary>A stand-in lock grain for handle tests: keep-alives are answered by <see cref="KeepAlive"/>
/// (or left pending), releases are recorded.</summary>
public sealed class ScriptedLockGrain : ICycleLockGrain
{
    public Func<KeepAliveRequest, CancellationToken, ValueTask<KeepAliveReply>> KeepAlive { get; set; } =
        (_, token) => new ValueTask<KeepAliveReply>(Task.Delay(Timeout.Infinite, token).ContinueWith<KeepAliveReply>(_ => throw new OperationCanceledException(token), TaskScheduler.Default));

    public List<ReleaseRequest> Releases { get; } = [];

    public int KeepAlives { get; private set; }

    public GrainId GetGrainId() => GrainId.Create("cycle-lock", "scripted");

    public ValueTask<KeepAliveReply> KeepAliveAsync(KeepAliveRequest request, CancellationToken cancellationToken = default)
    {
        KeepAlives++;
        return KeepAlive(request, cancellationToken);
    }

    /// <summary>When set, releases wait for it (the release is "in flight").</summary>
    public Task? ReleaseGate { get; set; }

    public async Task<ReleaseReply> ReleaseAsync(ReleaseRequest request, CancellationToken cancellationToken = default)
    {
        lock (Releases)
        {
            Releases.Add(request);
        }

        if (ReleaseGate is { } gate)
        {
            await gate;
        }

        return new ReleaseReply(ReleaseStatus.Released, request.Reason.ToText(), request.Epoch);
    }

    public Task<AcquireReply> TryAcquireAsync(AcquireRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();


    public Task<LockInfo> InspectAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();


    public Task<AbandonReply> AbandonAsync(AbandonRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();


    public Task<WaitReply> WaitAsync(WaitRequest request, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<bool> LeaveAsync(Guid waiterId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<LockHistoryEntry[]> GetHistoryAsync(int limit, long? beforeId, CancellationToken cancellationToken = default) => throw new NotSupportedException();
}
