using Microsoft.Extensions.Logging;

namespace CycleLock.Security;

/// <summary>
/// Checks every call before it runs (DESIGN §12). On a silo with credentials, a call to CycleLock's contracts
/// must prove where it comes from: the deployment's internal token (a call a silo made,
/// <see cref="InternalTokenFilter"/>) or a client credential — the caller id a message claims is not enough, a client
/// can forge it. A client credential is then checked against the call: operator calls
/// (<see cref="ILockOperatorGrain"/>, and any grain outside CycleLock's worker contract a client calls, such as
/// Orleans' management grain) need an operator; a worker uses only the locks its name patterns match. A refusal
/// is a <see cref="CycleLockAccessDeniedException"/>, counted and logged at Debug (never the secret), and nothing
/// runs. The credential, the token and a declared operator are taken out of the request context here, so none
/// travels on (to another grain, or to a client's waiter or event observer). System targets (Orleans' own
/// plumbing, which clients need to connect) are not checked. What a client's call throws reaches it as a copy
/// without the silo's stack trace (<see cref="ClientErrors"/>).
/// </summary>
internal sealed partial class AccessFilter(AccessPolicy policy, CycleLockMetrics metrics, ILogger<AccessFilter> logger) : IIncomingGrainCallFilter
{
    private static readonly HashSet<Type> Contracts =
        [typeof(ICycleLockGrain), typeof(ILockOperatorGrain), typeof(ILockAdminGrain), typeof(ILockEventsGrain), typeof(IPingGrain), typeof(ICycleLockAdoption)];

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (GrainTypePrefix.IsSystemTarget(context.TargetId))
        {
            await context.Invoke();
            return;
        }

        var presented = RequestContext.Get(AccessContext.CredentialKey) as string;
        var token = RequestContext.Get(AccessContext.InternalKey) as string;
        var declared = RequestContext.Get(AccessContext.OperatorKey) as string;
        RequestContext.Remove(AccessContext.CredentialKey);
        RequestContext.Remove(AccessContext.InternalKey);
        RequestContext.Remove(AccessContext.OperatorKey);
        var fromClient = context.SourceId is not { } source || GrainTypePrefix.IsClient(source);
        var contract = context.InterfaceMethod?.DeclaringType;
        if (policy.IsOpen)
        {
            // No credentials configured: every client is the operator "anonymous"; in-silo code may name its operator.
            Caller.Set(fromClient ? Principal.Anonymous.Name : declared);
            await (fromClient ? InvokeForClientAsync(context) : context.Invoke());
            return;
        }

        if (policy.IsInternal(token) || (!fromClient && (contract is null || !Contracts.Contains(contract))))
        {
            // A silo's own call (the web console names its operator), or Orleans' own traffic between grains and timers.
            Caller.Set(declared);
            await context.Invoke();
            return;
        }

        var principal = policy.Authenticate(presented, out var rule, out var claimed);
        if (principal is null)
        {
            ClientErrors.Answer(context, Deny(context, claimed, rule, rule == "credential-required"
                ? "this silo requires a credential (rule: credential-required — present NAME:SECRET, CycleLock:Client:Credential or CYCLELOCK_CREDENTIAL)"
                : "the credential is not one this silo knows, or its secret is wrong (rule: unknown-credential)"));
            return;
        }

        if (Refusal(context, contract, principal) is { } refusal)
        {
            ClientErrors.Answer(context, Deny(context, principal.Name, refusal.Rule, refusal.Why));
            return;
        }

        Caller.Set(principal.Name);
        await InvokeForClientAsync(context);
    }

    // A client's call: what it throws reaches the client without the silo's stack trace.
    private static async Task InvokeForClientAsync(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception e)
        {
            ClientErrors.Answer(context, e);
        }
    }

    private static (string Rule, string Why)? Refusal(IIncomingGrainCallContext context, Type? contract, Principal principal)
    {
        if (principal.IsOperator)
        {
            return null;
        }

        if (contract == typeof(ICycleLockGrain))
        {
            var name = context.TargetId.Key.ToString();
            return principal.MayUse(name)
                ? null
                : ("outside-prefixes", $"lock {LockName.Quote(name)} matches none of its name patterns {string.Join(", ", principal.Patterns)} (rule: outside-prefixes)");
        }

        if (contract == typeof(ILockAdminGrain) || contract == typeof(ILockEventsGrain) || contract == typeof(IPingGrain))
        {
            return null;
        }

        return ("operator-only", "the call needs an operator credential (rule: operator-only)");
    }

    private CycleLockAccessDeniedException Deny(IIncomingGrainCallContext context, string? credential, string rule, string why)
    {
        var call = $"{context.InterfaceMethod?.DeclaringType?.Name ?? context.InterfaceName}.{context.MethodName}";
        metrics.AccessDenied(rule);
        LogDenied(logger, credential ?? "(none)", call, rule);
        var who = credential is null ? "a caller without a valid credential" : $"credential '{credential}'";
        return new CycleLockAccessDeniedException($"Access denied to {who} for {call}: {why}.", credential, call, rule);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Access denied: credential {Credential}, call {Call}, rule {Rule}")]
    private static partial void LogDenied(ILogger logger, string credential, string call, string rule);
}
