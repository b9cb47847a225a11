namespace CycleLock.Chaos.Worker;

/// <summary>
/// A worker's record of what it believed and saw. Kinds: <c>belief</c> (Lock, Epoch, Holder, Start, End on
/// the worker's clock; MonotonicMs its length on the monotonic clock), <c>clock</c> (WorkerUtc and
/// MonotonicMs, milliseconds since the process's monotonic origin, at the middle of a
/// <c>clock_timestamp()</c> round trip; DbUtc; RoundTripMs), <c>rejected</c> (a guarded write the epoch guard refused; Reason), <c>write</c> (a
/// guarded write committed; Sequence), <c>lost</c> (the handle was lost while the process ran; Reason),
/// <c>moved</c> (a keep-alive answered Moved), <c>mover-lost</c> (the mover's raw lease ended; reported, not
/// judged: the mover is not an SDK holder), <c>error</c> (Reason).
/// </summary>
public sealed record LogLine(
    string Kind,
    int Worker,
    string? Lock = null,
    long Epoch = 0,
    Guid Holder = default,
    DateTimeOffset? Start = null,
    DateTimeOffset? End = null,
    DateTimeOffset? WorkerUtc = null,
    DateTimeOffset? DbUtc = null,
    double RoundTripMs = 0,
    long Sequence = 0,
    string? Reason = null,
    double MonotonicMs = 0);
