namespace CycleLock.Chaos.Checking;

/// <summary>What a <see cref="Violation"/> broke; the numbers are the checker's rules.</summary>
public enum ViolationKind
{
    /// <summary>Rule 1: a worker's belief certainly overlapped another epoch's grant of the same lock.</summary>
    BeliefOverlapsOtherGrant,

    /// <summary>Rule 1: a worker with beliefs never sampled the database clock, so they cannot be checked.</summary>
    NoClockEvidence,

    /// <summary>Rule 2: a belief whose (lock, epoch, holder) was never granted.</summary>
    BeliefWithoutGrant,

    /// <summary>Rule 3: a protected write of a lower epoch committed after one of a higher epoch.</summary>
    EpochWentBackwards,

    /// <summary>Rule 4: a protected write committed at or after the next grant or its own epoch's force-release.</summary>
    WriteAfterNextGrant,

    /// <summary>Rule 5: a protected write whose (lock, epoch, holder) was never granted.</summary>
    WriteWithoutGrant,

    /// <summary>Rule 6: a live holder lost its lease while every fault was within budget.</summary>
    LeaseLostWithinBudget,

    /// <summary>Rule 7: a required fault kind never ran within its budget.</summary>
    FaultKindNotExercisedInBudget,

    /// <summary>Rule 8: a bite counter is zero.</summary>
    FaultsDidNotBite,

    /// <summary>Rule 9: one epoch of a lock granted to two holders.</summary>
    DuplicateEpoch,

    /// <summary>Rule 9: a grant committed while the previous epoch of its lock was still held.</summary>
    GrantsOverlap,
}
