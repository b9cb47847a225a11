namespace CycleLock.Security;

/// <summary>Puts the deployment's internal token (<see cref="AccessPolicy.InternalToken"/>) on every call this silo
/// makes to a grain — from a grain, a timer or in-silo code such as the web console — so the receiving silo's
/// <see cref="AccessFilter"/> knows it comes from inside the cluster. Never on a call to a client (a waiter's offer,
/// an event delivery): the token must not leave the cluster.</summary>
internal sealed class InternalTokenFilter(AccessPolicy policy) : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (policy.InternalToken is { } token && !GrainTypePrefix.IsClient(context.TargetId) && !GrainTypePrefix.IsSystemTarget(context.TargetId))
        {
            // Set in this async method's own context: the caller's request context is left as it was.
            RequestContext.Set(AccessContext.InternalKey, token);
        }

        await context.Invoke();
    }
}
