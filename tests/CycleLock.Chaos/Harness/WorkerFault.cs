namespace CycleLock.Chaos.Harness;

/// <summary>A fault aimed at one worker while it held <see cref="Lock"/> at <see cref="Epoch"/> (from its
/// PAUSE-POINT or LONG-HOLD line), with when it ran; the evidence checks it did what it was meant to.</summary>
public sealed record WorkerFault(string Kind, int Worker, string Lock, long Epoch)
{
    public DateTimeOffset Start { get; init; }

    public DateTimeOffset End { get; init; }
}
