using Orleans.Concurrency;

namespace CycleLock;

/// <summary>A grain that does nothing: the platform's cost of one grain call, the baseline the keep-alive
/// benchmark is measured against (and a latency probe for operators).</summary>
[Alias("CycleLock.IPingGrain")]
public interface IPingGrain : IGrainWithStringKey
{
    /// <summary>Returns at once. Always interleaves, like a keep-alive.</summary>
    [AlwaysInterleave]
    [Alias("Ping")]
    ValueTask PingAsync();
}
