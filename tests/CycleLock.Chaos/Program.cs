using System.Runtime.InteropServices;
using CycleLock.Chaos.Harness;
using CycleLock.Chaos.Leader;
using CycleLock.Chaos.Worker;

// CycleLock's chaos run (deploy/chaos): `run --root REPO [--long] [--workers N] [--locks M] [--ttl-seconds S]
// [--minutes D] [--directory DIR]` runs the harness and the checker (exit 0: no violation, 1: violations,
// 2: bad arguments); `worker ...` is one worker process, started by the harness; `leader ...` is one replica of a
// leader election (the election's process tests).
try
{
    if (args is ["run", ..])
    {
        var harness = new ChaosHarness(ChaosSettings.Parse(args));
        void Interrupted(PosixSignalContext context)
        {
            context.Cancel = true;
            Console.Error.WriteLine($"{context.Signal}: stopping every process of the run");
            harness.EmergencyStopAsync().GetAwaiter().GetResult();
            Environment.Exit(3);
        }

        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupted);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupted);
        return await harness.RunAsync();
    }

    return args switch
    {
        ["worker", ..] => await ChaosWorker.RunAsync(args),
        ["leader", ..] => await LeaderProbe.RunAsync(args),
        _ => Usage(),
    };
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine("usage: CycleLock.Chaos run --root REPO [--long] [--workers N] [--locks M] [--ttl-seconds S] [--minutes D] [--directory DIR] | worker ...");
    return 2;
}
