namespace CycleLock;

/// <summary>The request-context key a client's credential travels under (set by the SDK's call filter,
/// read and removed by the silo's access filter: it never travels on from the silo).</summary>
public static class AccessContext
{
    /// <summary>The key of the credential, <c>NAME:SECRET</c>, in Orleans' <c>RequestContext</c>.</summary>
    public const string CredentialKey = "cyclelock-credential";

    /// <summary>The key in-silo code (the web console) sets to the operator it authenticated itself; a call from a
    /// client never carries it further than the silo's access filter.</summary>
    public const string OperatorKey = "cyclelock-operator";

    /// <summary>The key of the token a silo puts on the calls it makes to grains (never on calls to clients), by
    /// which another silo of the same deployment knows the call comes from inside the cluster.</summary>
    public const string InternalKey = "cyclelock-internal";

    /// <summary>The longest credential name.</summary>
    public const int MaxCredentialNameLength = 64;

    /// <summary>Whether <paramref name="name"/> is a valid credential name: 1 to 64 ASCII letters, digits, '.', '_' or '-'.</summary>
    public static bool IsCredentialName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > MaxCredentialNameLength)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
