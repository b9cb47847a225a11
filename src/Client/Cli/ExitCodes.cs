namespace CycleLock.Cli;

/// <summary>The exit codes of <c>cyclelock</c> (documented in <c>cyclelock --help</c> and the README).</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Ok = 0;

    /// <summary>Not acquired, lost or failed (<c>hold</c>, <c>demo</c>).</summary>
    public const int NotHeld = 1;

    /// <summary>Bad arguments: nothing was sent.</summary>
    public const int BadArguments = 2;

    /// <summary>Refused: a wrong epoch, a lock not held or not dead, a fenced write in flight. Nothing changed.</summary>
    public const int Refused = 3;

    /// <summary>The cluster could not be reached.</summary>
    public const int Unreachable = 4;

    /// <summary>A call got no answer: it may still take effect; inspect before retrying.</summary>
    public const int Unknown = 5;

    /// <summary>The silo refused this tool's credential, or the credential may not make the call. Nothing changed.</summary>
    public const int Denied = 6;

    public const string Help = "exit codes: 0 done, 1 not acquired/lost/failed, 2 bad arguments (nothing sent), 3 refused (wrong epoch, not held, not dead; nothing changed), 4 cluster unreachable, 5 no answer (outcome unknown: inspect before retrying), 6 access denied (no or wrong credential, or not allowed; nothing changed)";
}
