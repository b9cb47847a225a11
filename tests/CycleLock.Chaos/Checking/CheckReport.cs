using System.Text;
using static System.FormattableString;

namespace CycleLock.Chaos.Checking;

/// <summary>The outcome of <see cref="ChaosChecker.Check"/>: what the run did and every rule it broke.</summary>
/// <param name="Grants">Grant records checked.</param>
/// <param name="FaultsByKind">Faults by kind (ordinal order), each with its in-budget count; required kinds appear even when never injected.</param>
/// <param name="LossesByCause">Losses of live holders by cause (ordinal order), excused or not.</param>
/// <param name="Violations">Every violation, ordered by lock (run-wide first), then kind.</param>
/// <param name="UncertainOverlaps">Belief/grant overlaps possible only within the clock uncertainty (not violations).</param>
/// <param name="Bite">The bite counters as given.</param>
public sealed record CheckReport(
    int Grants,
    IReadOnlyDictionary<string, FaultKindSummary> FaultsByKind,
    IReadOnlyDictionary<string, int> LossesByCause,
    IReadOnlyList<Violation> Violations,
    int UncertainOverlaps,
    BiteEvidence Bite)
{
    /// <summary>Whether the run broke no rule.</summary>
    public bool Passed => Violations.Count == 0;

    /// <summary>A compact plain-text table of the report, for the harness to print.</summary>
    public string Format()
    {
        var text = new StringBuilder();
        text.AppendLine(Passed ? "chaos check PASSED" : Invariant($"chaos check FAILED: {Violations.Count} violation(s)"));
        text.AppendLine(Invariant($"grants {Grants}, uncertain overlaps {UncertainOverlaps}"));
        text.AppendLine(Invariant(
            $"bite: stale writes rejected {Bite.StaleWritesRejected}, takeovers after stop {Bite.TakeoversAfterStop}, moved answers {Bite.MovedAnswers}, renewal reconnects {Bite.RenewalReconnects}"));

        AppendTable(text, ["fault kind", "count", "in budget"], FaultsByKind.Select(f => new[] { f.Key, Num(f.Value.Count), Num(f.Value.InBudget) }));
        AppendTable(text, ["loss cause", "count"], LossesByCause.Select(l => new[] { l.Key, Num(l.Value) }));
        if (!Passed)
        {
            AppendTable(text, ["violation", "count"], Violations.GroupBy(v => v.Kind).OrderBy(g => g.Key).Select(g => new[] { g.Key.ToString(), Num(g.Count()) }));
            AppendTable(text, ["lock", "violation", "detail"], Violations.Select(v => new[] { v.Lock.Length == 0 ? "(run)" : v.Lock, v.Kind.ToString(), v.Detail }));
        }

        return text.ToString();
    }

    private static string Num(int value) => Invariant($"{value}");

    /// <summary>Left-aligned columns, two spaces apart; the last column is not padded.</summary>
    private static void AppendTable(StringBuilder text, string[] header, IEnumerable<string[]> rows)
    {
        var all = rows.Prepend(header).ToList();
        var widths = Enumerable.Range(0, header.Length).Select(c => all.Max(r => r[c].Length)).ToArray();
        text.AppendLine();
        foreach (var row in all)
        {
            var cells = row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c]));
            text.AppendLine(string.Join("  ", cells).TrimEnd());
        }
    }
}
