namespace CycleLock.Testing;

/// <summary>The POSIX signals the launchers and the fault injectors send (Linux numbering).</summary>
public enum Signal
{
    /// <summary>SIGKILL: no shutdown, no goodbye (a crash as the cluster sees it).</summary>
    Kill = 9,

    /// <summary>SIGTERM: the graceful stop a service manager sends.</summary>
    Term = 15,

    /// <summary>SIGCONT: a stopped process runs on.</summary>
    Cont = 18,

    /// <summary>SIGSTOP: the process freezes where it is (a long GC pause, a descheduled VM).</summary>
    Stop = 19,
}
