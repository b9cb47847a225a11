namespace CycleLock.Resilience;

/// <summary>Where a matcher rule looks: at the exception itself (its cause), or at its whole inner/aggregate tree.</summary>
public enum RuleScope
{
    /// <summary>Only the exception as thrown.</summary>
    Cause = 0,

    /// <summary>The exception and every inner and aggregated exception.</summary>
    Tree = 1,
}

/// <summary>What a rule knows besides the exception.</summary>
/// <param name="CallerCancelled">The caller's token is cancelled.</param>
/// <param name="AttemptTimedOut">Our own attempt timeout fired.</param>
/// <param name="UnderNpgsql">The exception is (inside) an <c>NpgsqlException</c>.</param>
public readonly record struct MatchContext(bool CallerCancelled, bool AttemptTimedOut, bool UnderNpgsql);

/// <summary>One named rule of <see cref="TransientErrorMatcher"/>.</summary>
public sealed record MatcherRule(string Name, ErrorClass Class, RuleScope Scope, Func<Exception, MatchContext, bool> Matches);
