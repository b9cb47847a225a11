using CycleLock.Chaos.Harness;
using CycleLock.Chaos.Worker;

// CycleLock's chaos run (deploy/chaos): `run --root REPO [--long] [--workers N] [--locks M] [--ttl-seconds S]
// [--minutes D] [--directory DIR]` runs the harness and the checker (exit 0: no violation, 1: violations,
// 2: bad arguments); `worker ...` is one worker process, started by the harness.
try
{
    return args switch
    {
        ["run", ..] => await new ChaosHarness(ChaosSettings.Parse(args)).RunAsync(),
        ["worker", ..] => await ChaosWorker.RunAsync(args),
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
