namespace CycleLock;

/// <summary>
/// A silo refused a call: no credential, a credential it does not know, or one that does not allow the
/// call (an operator call with a worker credential, a lock name outside the credential's prefixes).
/// Thrown before the call runs: nothing changed. The message names the credential (never its secret), the
/// call and the rule.
/// </summary>
[GenerateSerializer]
[Alias("CycleLock.CycleLockAccessDeniedException")]
public sealed class CycleLockAccessDeniedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CycleLockAccessDeniedException(string message, string? credential, string call, string rule)
        : base(message)
    {
        Credential = credential;
        Call = call;
        Rule = rule;
    }

    /// <summary>Creates the exception.</summary>
    public CycleLockAccessDeniedException()
    {
        Call = string.Empty;
        Rule = string.Empty;
    }

    /// <summary>Creates the exception.</summary>
    public CycleLockAccessDeniedException(string message)
        : base(message)
    {
        Call = string.Empty;
        Rule = string.Empty;
    }

    /// <summary>Creates the exception.</summary>
    public CycleLockAccessDeniedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Call = string.Empty;
        Rule = string.Empty;
    }

    /// <summary>The name of the credential presented (null when none was).</summary>
    [Id(0)]
    public string? Credential { get; private set; }

    /// <summary>The refused call, e.g. <c>ICycleLockGrain.TryAcquire 'payroll/run'</c>.</summary>
    [Id(1)]
    public string Call { get; private set; }

    /// <summary>The rule the call broke, e.g. <c>credential-required</c>, <c>unknown-credential</c>,
    /// <c>operator-only</c>, <c>outside-prefixes</c>.</summary>
    [Id(2)]
    public string Rule { get; private set; }
}
