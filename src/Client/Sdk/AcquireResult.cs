namespace CycleLock.Client;

/// <summary>The result of an acquire: a <see cref="Handle"/> when acquired, otherwise who holds the lock
/// (label, epoch, time left) or why it cannot be had (dead, queue full).</summary>
/// <param name="Outcome">What the acquire came to.</param>
/// <param name="Handle">The lock handle when <see cref="AcquireOutcome.Acquired"/>.</param>
/// <param name="Reply">The grain's last acquire reply (for Busy: holder label, epoch, time left, reason; for
/// Dead: the counters).</param>
public sealed record AcquireResult(AcquireOutcome Outcome, LockHandle? Handle, AcquireReply Reply)
{
    /// <summary>True when the lock is held through <see cref="Handle"/>.</summary>
    public bool Acquired => Outcome == AcquireOutcome.Acquired;

    /// <summary>Busy: the current holder's label, when known.</summary>
    public string? HolderLabel => Reply.HolderLabel;

    /// <summary>Busy: the current holder's epoch.</summary>
    public long Epoch => Reply.Epoch;

    /// <summary>Busy: time until the lock could next be granted.</summary>
    public TimeSpan TimeLeft => Reply.TimeLeft;

    /// <inheritdoc />
    public override string ToString() => Outcome switch
    {
        AcquireOutcome.Acquired => $"acquired {Handle!.Name} epoch {Handle.Epoch}",
        AcquireOutcome.Busy => $"busy: {Reply.BusyReason}, holder {Reply.HolderLabel ?? "?"}, epoch {Reply.Epoch}, {Reply.TimeLeft.TotalSeconds:0.0}s left",
        AcquireOutcome.Dead => $"dead after {Reply.Stalls} stalls (an operator must reset it)",
        AcquireOutcome.NoReply => $"no reply from the cluster; the acquire was abandoned ({Error?.Message})",
        _ => "queue full",
    };

    /// <summary>NoReply: why.</summary>
    public Exception? Error { get; init; }

    internal static AcquireResult NoReply(Exception error) => new(
        AcquireOutcome.NoReply,
        null,
        new AcquireReply(AcquireStatus.Busy, 0, TimeSpan.Zero, TimeSpan.Zero, null, TimeSpan.Zero, BusyReason.None, 0, 0))
    {
        Error = error,
    };

    internal static AcquireResult From(AcquireReply reply) => new(
        reply.Status switch
        {
            AcquireStatus.Dead => AcquireOutcome.Dead,
            _ => AcquireOutcome.Busy,
        },
        null,
        reply);
}
