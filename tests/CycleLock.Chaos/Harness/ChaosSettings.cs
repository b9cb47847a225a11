using System.Globalization;

namespace CycleLock.Chaos.Harness;

/// <summary>
/// What a run does. Short mode (CI): 6 workers, 8 locks, TTL 30 s, every fault kind once in about two
/// minutes. Long mode: the same fault cycle repeated for <see cref="Duration"/> (default 12 minutes).
/// </summary>
public sealed record ChaosSettings(bool Long, int Workers, int Locks, TimeSpan Ttl, TimeSpan Duration, string Directory, string SiloDll, string ChaosDll)
{
    public TimeSpan RenewPeriod => Ttl / 6;

    public TimeSpan Margin => (Ttl / 20) + TimeSpan.FromMilliseconds(250);

    public TimeSpan HolderTimeout => Ttl / 2;

    /// <summary>DESIGN §6: the longest database fault a lease survives, TTL − P − m.</summary>
    public TimeSpan DatabaseBudget => Ttl - RenewPeriod - Margin;

    /// <summary>DESIGN §6: the longest silo outage a lease survives, ht − m_w − keep-alive interval − kt.</summary>
    public TimeSpan SiloBudget => HolderTimeout - (Margin / 2) - (HolderTimeout / 3) - Min(HolderTimeout / 4, TimeSpan.FromSeconds(2));

    public static ChaosSettings Parse(string[] args)
    {
        string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        var isLong = args.Contains("--long");
        var root = Arg("--root") ?? throw new ArgumentException("--root (the repository) is required");
        var configuration = Arg("--configuration") ?? "Release";
        var workers = int.Parse(Arg("--workers") ?? "6", CultureInfo.InvariantCulture);
        if (workers < 4)
        {
            throw new ArgumentOutOfRangeException(nameof(args), workers, "--workers must be at least 4 (a mover, a stopped, a stopped-in-guard and a blackholed worker, plus contenders).");
        }

        return new ChaosSettings(
            isLong,
            workers,
            int.Parse(Arg("--locks") ?? "8", CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(double.Parse(Arg("--ttl-seconds") ?? "30", CultureInfo.InvariantCulture)),
            TimeSpan.FromMinutes(double.Parse(Arg("--minutes") ?? (isLong ? "12" : "1.7"), CultureInfo.InvariantCulture)),
            Arg("--directory") ?? Path.Combine(Path.GetTempPath(), "cyclelock-chaos-" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)),
            Path.Combine(root, "src", "Silo", "bin", configuration, "net10.0", "CycleLock.Silo.dll"),
            Path.Combine(root, "tests", "CycleLock.Chaos", "bin", configuration, "net10.0", "CycleLock.Chaos.dll"));
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
