namespace CycleLock.Client;

/// <summary>The result of an acquire: a <see cref="Handle"/> when granted, otherwise the grain's reply
/// (busy holder label, epoch and time left; dead; holder spent).</summary>
public sealed record AcquireResult(LockHandle? Handle, AcquireReply Reply)
{
    /// <summary>True when the lock is held through <see cref="Handle"/>.</summary>
    public bool Acquired => Handle is not null;
}
