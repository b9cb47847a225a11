using CycleLock.Client;
using CycleLock.Tests.Sdk;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CycleLock.Tests.Adoption;

/// <summary>
/// <c>AddCycleLockLeader</c> in one process against a real cluster: a leader that loses its lease and stays alive is
/// told at the loss and campaigns again for a new term; a follower sees who leads; a callback that fails steps down
/// and the follower leads; stopping releases. (The process tests — kill -9, SIGTERM — are in
/// <see cref="LeaderElectionProcessTests"/>.)
/// </summary>
[Collection(SdkCollection.Name)]
public sealed class LeaderElectionTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task ALeaderThatLosesItsLease_IsToldAtTheLoss_EvenWhileItsCallbackWindsDown_AndCampaignsAgainForANewTerm()
    {
        var name = NewName("leader-loss");
        var running = 0;
        var replica = await StartAsync(name, "lossy", async (lease, ct) =>
        {
            Interlocked.Increment(ref running);
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                await Task.Delay(700, CancellationToken.None); // a callback slow to wind down
                throw;
            }
            finally
            {
                Interlocked.Decrement(ref running);
            }
        });
        try
        {
            await Eventually(() => Task.FromResult(replica.Leader.IsLeader), TimeSpan.FromSeconds(10), "the only replica leads");
            var first = replica.Leader.Term!.Value;
            var now = await replica.Leader.CurrentLeaderAsync();
            Assert.Equal(("lossy", first, LockState.Held), (now.HolderLabel, now.Epoch, now.State));

            var reply = await Locks("operator").ForceReleaseAsync(name, first, "test: leader loss", "operator", skipDelay: true);
            Assert.Equal(ForceReleaseStatus.Released, reply.Status);

            // Told at the loss: IsLeader turns false while the slow callback still runs.
            await Eventually(() => Task.FromResult(!replica.Leader.IsLeader), TimeSpan.FromSeconds(5), "IsLeader false after the force-release");
            Assert.Equal(1, Volatile.Read(ref running));
            Assert.Null(replica.Leader.Term);

            await Eventually(() => Task.FromResult(replica.Leader.Term is { } t && t > first), TimeSpan.FromSeconds(10), "a new term after the loss");
            var second = replica.Leader.Term!.Value;
            Assert.Equal(1, Volatile.Read(ref running));
            Assert.Equal([(true, first), (false, first), (true, second)], replica.Events());

            await replica.StopAsync();
            Assert.Equal(0, Volatile.Read(ref running));
            Assert.Equal((false, second), replica.Events()[^1]);
            Assert.Equal("free", (await RowAsync(name)).State); // stopping released the lease
        }
        finally
        {
            await replica.StopAsync();
        }
    }

    [Fact]
    public async Task TwoReplicas_OneLeads_TheFollowerSeesWhoLeads_AFailedCallbackStepsDown_AndTheFollowerLeadsAtOnce()
    {
        var name = NewName("leader-pair");
        var fail = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var a = await StartAsync(name, "replica-a", async (_, ct) =>
        {
            await fail.Task.WaitAsync(ct);
            throw new InvalidOperationException("the leader's work failed");
        });
        await Eventually(() => Task.FromResult(a.Leader.IsLeader), TimeSpan.FromSeconds(10), "replica-a leads");
        var b = await StartAsync(name, "replica-b", (_, ct) => Task.Delay(Timeout.Infinite, ct));
        try
        {
            await Task.Delay(1000);
            Assert.False(b.Leader.IsLeader);
            var seen = await b.Leader.CurrentLeaderAsync();
            Assert.Equal(("replica-a", a.Leader.Term), (seen.HolderLabel, (long?)seen.Epoch));
            var first = a.Leader.Term!.Value;

            fail.SetResult();
            await Eventually(() => Task.FromResult(b.Leader.IsLeader), TimeSpan.FromSeconds(3), "replica-b leads once replica-a's callback failed");
            Assert.True(b.Leader.Term > first);
            Assert.False(a.Leader.IsLeader);
            Assert.Equal([(true, first), (false, first)], a.Events());

            // replica-a campaigns again after its pause and waits behind the leader.
            await Task.Delay(1000);
            Assert.True(b.Leader.IsLeader);
            Assert.False(a.Leader.IsLeader);
            Assert.Equal("replica-b", (await a.Leader.CurrentLeaderAsync()).HolderLabel);
        }
        finally
        {
            await b.StopAsync();
            await a.StopAsync();
        }
    }

    [Fact]
    public void RegisteringALeaderBeforeTheClient_IsRefusedNamingTheRule()
    {
        var services = new ServiceCollection();
        var e = Assert.Throws<InvalidOperationException>(() => services.AddCycleLockLeader("leader/early", (_, _) => Task.CompletedTask));
        Assert.Contains("AddCycleLockClient first", e.Message, StringComparison.Ordinal);
    }

    private async Task<Replica> StartAsync(string name, string label, Func<LeaderLease, CancellationToken, Task> lead)
    {
        var services = new ServiceCollection();
        services.AddSingleton(Locks(label));
        services.AddCycleLockLeader(name, lead, o =>
        {
            o.Ttl = Ttl;
            o.RetryDelay = TimeSpan.FromMilliseconds(300);
        });
        var provider = services.BuildServiceProvider();
        var replica = new Replica(provider, provider.GetRequiredKeyedService<CycleLockLeader>(name), provider.GetServices<IHostedService>().Single());
        await replica.Service.StartAsync(CancellationToken.None);
        return replica;
    }

    private sealed class Replica
    {
        private readonly ServiceProvider _provider;
        private readonly List<(bool, long)> _events = [];
        private bool _stopped;

        public Replica(ServiceProvider provider, CycleLockLeader leader, IHostedService service)
        {
            _provider = provider;
            Leader = leader;
            Service = service;
            leader.LeadershipChanged += (_, change) =>
            {
                lock (_events)
                {
                    _events.Add((change.IsLeader, change.Term));
                }
            };
        }

        public CycleLockLeader Leader { get; }

        public IHostedService Service { get; }

        public List<(bool, long)> Events()
        {
            lock (_events)
            {
                return [.. _events];
            }
        }

        public async Task StopAsync()
        {
            if (!_stopped)
            {
                _stopped = true;
                await Service.StopAsync(CancellationToken.None);
                await _provider.DisposeAsync();
            }
        }
    }
}
