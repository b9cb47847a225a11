using System.Globalization;
using Spectre.Console;

namespace CycleLock.Cli;

/// <summary>Renders locks and history for operators.</summary>
internal static class LockTables
{
    public static Table Locks(IReadOnlyList<LockInfo> locks, DateTimeOffset now)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("lock", "state", "holder", "epoch", "acquired", "renewed", "expires", "time left", "held for", "attempts", "stalls");
        foreach (var l in locks)
        {
            var state = l.State switch
            {
                LockState.Held when l.TimeLeft > TimeSpan.Zero => "[green]held[/]",
                LockState.Held => "[yellow]expired[/]",
                LockState.Dead => "[red]dead[/]",
                _ => "free",
            };
            table.AddRow(
                Markup.Escape(l.Name),
                state,
                Markup.Escape(l.State == LockState.Held ? LockName.Printable(l.HolderLabel) ?? "?" : "-"),
                l.Epoch.ToString(CultureInfo.InvariantCulture),
                Time(l.AcquiredAt),
                Time(l.RenewedAt),
                Time(l.ExpiresAt),
                l.State == LockState.Held ? Seconds(l.TimeLeft) : "-",
                l.State == LockState.Held && l.AcquiredAt is { } at ? Seconds(now - at) : "-",
                l.Attempts.ToString(CultureInfo.InvariantCulture),
                l.Stalls.ToString(CultureInfo.InvariantCulture));
        }

        return table;
    }

    public static Table History(IEnumerable<LockHistoryEntry> entries)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("#", "at", "epoch", "event", "holder", "reason", "by", "operator");
        foreach (var e in entries)
        {
            table.AddRow(
                e.Id.ToString(CultureInfo.InvariantCulture),
                e.At.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture),
                e.Epoch.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(e.Event),
                Markup.Escape(LockName.Printable(e.HolderLabel) ?? "-"),
                Markup.Escape(LockName.Printable(e.Reason) ?? "-"),
                Markup.Escape(LockName.Printable(e.By) ?? "-"),
                Markup.Escape(e.Operator ?? "-"));
        }

        return table;
    }

    public static async Task<List<LockInfo>> ListAllAsync(IClusterClient client, int max)
    {
        var admin = client.GetGrain<ILockAdminGrain>(0);
        var all = new List<LockInfo>();
        string? after = null;
        while (all.Count < max)
        {
            var page = await admin.ListAsync(after, Math.Min(1000, max - all.Count)).ConfigureAwait(false);
            all.AddRange(page);
            if (page.Length == 0 || page.Length < Math.Min(1000, max - all.Count + page.Length))
            {
                break;
            }

            after = page[^1].Name;
        }

        return all;
    }

    private static string Time(DateTimeOffset? at) => at?.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) ?? "-";

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s";
}
