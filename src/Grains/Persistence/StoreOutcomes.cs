namespace CycleLock.Persistence;

/// <summary>The outcome words the lease functions return (<c>cyclelock.op_result.outcome</c>).</summary>
public static class StoreOutcomes
{
    /// <summary>Maps an outcome word to its <see cref="StoreOutcome"/>; an unknown word means schema and code disagree.</summary>
    public static StoreOutcome Parse(string outcome) => outcome switch
    {
        "granted" => StoreOutcome.Granted,
        "reacquired" => StoreOutcome.Reacquired,
        "busy-held" => StoreOutcome.BusyHeld,
        "busy-fenced" => StoreOutcome.BusyFenced,
        "dead" => StoreOutcome.Dead,
        "spent" => StoreOutcome.Spent,
        "ttl-mismatch" => StoreOutcome.TtlMismatch,
        "renewed" => StoreOutcome.Renewed,
        "adopted" => StoreOutcome.Adopted,
        "moved" => StoreOutcome.Moved,
        "lost" => StoreOutcome.Lost,
        "ended" => StoreOutcome.Ended,
        "released" => StoreOutcome.Released,
        "already-released" => StoreOutcome.AlreadyReleased,
        "force-released" => StoreOutcome.ForceReleased,
        "wrong-epoch" => StoreOutcome.WrongEpoch,
        "not-held" => StoreOutcome.NotHeld,
        "abandoned" => StoreOutcome.Abandoned,
        "nothing" or "not-dead" => StoreOutcome.Nothing,
        "reset" => StoreOutcome.Reset,
        "skipped" => StoreOutcome.Skipped,
        _ => throw new InvalidOperationException($"Unknown lease outcome '{outcome}' (schema and code disagree)."),
    };
}
