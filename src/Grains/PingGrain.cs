namespace CycleLock;

/// <summary>See <see cref="IPingGrain"/>.</summary>
[GrainType("cycle-lock-ping")]
public sealed class PingGrain : Grain, IPingGrain
{
    /// <inheritdoc />
    public ValueTask PingAsync() => ValueTask.CompletedTask;
}
