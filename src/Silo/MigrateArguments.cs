namespace CycleLock.Silo;

/// <summary>The arguments of <c>CycleLock.Silo migrate</c>: <c>--runtime-role ROLE</c> (repeatable) and
/// configuration switches (<c>--CycleLock:ConnectionString=...</c>).</summary>
internal static class MigrateArguments
{
    public static (string[] Roles, string[] Others) Parse(string[] args)
    {
        var roles = new List<string>();
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--runtime-role")
            {
                if (i + 1 >= args.Length || string.IsNullOrWhiteSpace(args[i + 1]) || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new SiloConfigurationException("Invalid migrate arguments: --runtime-role needs a role name (rule: --runtime-role ROLE, repeatable).");
                }

                roles.Add(args[++i]);
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        return ([.. roles], [.. rest]);
    }
}
