namespace CycleLock.Tests.Interleaving;

/// <summary>
/// S2 under every interleaving the explorer reaches: 10 000 seeded schedules of 60 steps over two
/// activations, two holders, an operator and a store whose calls can commit, reply, fail before the
/// commit or lose their reply after it. A failure prints the seed and the schedule.
/// </summary>
public sealed class InterleavingTests
{
    [Fact]
    public async Task SeededSchedules_TwoActivationsTwoHoldersFaultyStore_HolderValidityAlwaysPrecedesNextGrant()
    {
        const int schedules = 10_000;
        var coverage = new InterleavingExplorer.Coverage();
        await Task.Run(() =>
        {
            for (var seed = 1; seed <= schedules; seed++)
            {
                var explorer = new InterleavingExplorer(seed);
                var violation = explorer.Run(60);
                Assert.True(violation is null, $"seed {seed}: {violation}\n{explorer.Trace}");
                coverage.KeepAliveDuringEnding += explorer.Seen.KeepAliveDuringEnding;
                coverage.ForceReleaseThroughNonServing += explorer.Seen.ForceReleaseThroughNonServing;
            }
        }, TestContext.Current.CancellationToken);

        Assert.True(coverage.KeepAliveDuringEnding > 0, "no schedule sent a keep-alive while a release was in flight");
        Assert.True(coverage.ForceReleaseThroughNonServing > 0, "no schedule force-released through a non-serving activation");
        TestContext.Current.SendDiagnosticMessage($"keep-alives during an ending release: {coverage.KeepAliveDuringEnding}; force-releases through a non-serving activation: {coverage.ForceReleaseThroughNonServing}");
    }
}
