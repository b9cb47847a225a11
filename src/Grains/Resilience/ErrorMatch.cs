namespace CycleLock.Resilience;

/// <summary>The matcher's verdict: the class and the name of the rule that decided it.</summary>
public readonly record struct ErrorMatch(ErrorClass Class, string Rule)
{
    /// <summary>True for <see cref="ErrorClass.Transient"/> and <see cref="ErrorClass.TransientReconnect"/>.</summary>
    public bool IsTransient => Class is ErrorClass.Transient or ErrorClass.TransientReconnect;
}
