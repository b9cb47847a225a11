namespace CycleLock.Tests.Sdk;

/// <summary>The waiter pump and acquires that are on their way to the database.</summary>
[Collection(SdkCollection.Name)]
public sealed class WaiterPumpTests(SdkClusterFixture fixture) : SdkTestBase(fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task WaiterArrivesWhileAnAcquireIsInFlight_IsQueuedNotOfferedTheLock()
    {
        var name = NewName("pump");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = 0;
        Fixture.Store.Before = async (operation, _) =>
        {
            if (operation == "acquire" && Interlocked.Exchange(ref held, 1) == 0)
            {
                await gate.Task;
            }
        };
        try
        {
            var first = Task.Run(() => Locks("first").TryAcquireAsync(name, Ttl));
            await Eventually(() => Task.FromResult(Fixture.Store.Statements.Any(s => s.Operation == "acquire" && s.Name == name)), TimeSpan.FromSeconds(5), "the first acquire reached the store");

            var waiter = new CountingWaiter();
            var reference = Client.CreateObjectReference<ILockWaiter>(waiter);
            var reply = await Client.GetGrain<ICycleLockGrain>(name).WaitAsync(new WaitRequest(Guid.NewGuid(), "waiter", Ttl, reference));

            Assert.Equal(WaitStatus.Queued, reply.Status);
            gate.SetResult();
            var granted = await first;
            Assert.True(granted.Acquired, granted.ToString());
            await Task.Delay(300); // an offer sent meanwhile would arrive within this
            Assert.Equal(0, waiter.Offers);
            await granted.Handle!.ReleaseAsync();
            await Eventually(() => Task.FromResult(waiter.Offers == 1), TimeSpan.FromSeconds(5), "the waiter is offered the lock once it is released");
            Client.DeleteObjectReference<ILockWaiter>(reference);
        }
        finally
        {
            Fixture.Store.Before = null;
            gate.TrySetResult();
        }
    }
}
