namespace CycleLock.Security;

/// <summary>Who the current grain call is from, as the access filter established it before the call ran.</summary>
internal static class Caller
{
    private static readonly AsyncLocal<string?> Current = new();

    /// <summary>The operator to record for a force-release or reset: the authenticated credential of a client's
    /// call, the operator in-silo code named (the web console), or <c>silo</c>.</summary>
    public static string OperatorName => Current.Value ?? "silo";

    /// <summary>Set by the access filter for the call it is about to run.</summary>
    public static void Set(string? name) => Current.Value = name;
}
