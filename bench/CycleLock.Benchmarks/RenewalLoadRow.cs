using System.Globalization;

namespace CycleLock.Benchmarks;

/// <summary>B3 at one size: renewal statements and rows updated over the measured time, and the renewal
/// rate from every lease's own renewal timestamps.</summary>
public sealed record RenewalLoadRow(
    int Leases,
    TimeSpan Elapsed,
    long BatchStatements,
    long SingleStatements,
    long RowsUpdated,
    double ExpectedRowsPerSecond,
    double ObservedRenewalsPerSecond,
    double LeasesPerPeriod,
    double MinIntervalSeconds,
    double MaxIntervalSeconds,
    long RenewedInWindow,
    long HeldAtEnd)
{
    public long Statements => BatchStatements + SingleStatements;

    public double StatementsPerSecond => Statements / Elapsed.TotalSeconds;

    /// <summary>n_tup_upd per second (every held lease of the service, read with the statistics lag).</summary>
    public double RowsPerSecond => RowsUpdated / Elapsed.TotalSeconds;

    /// <summary>n_tup_upd per second ÷ Σ 1/P over the held leases.</summary>
    public double RowsRatio => RowsPerSecond / ExpectedRowsPerSecond;

    /// <summary>Σ 1/(mean renewal interval) over B3's leases ÷ (leases ÷ P); target within 5 % of 1.</summary>
    public double RenewalRatio => ObservedRenewalsPerSecond / LeasesPerPeriod;

    /// <summary>Renewal statements per coalescing tick (the window); target ≤ 2.</summary>
    public double StatementsPerTick(TimeSpan window) => Statements / (Elapsed / window);

    public string Format(TimeSpan window) => string.Create(CultureInfo.InvariantCulture,
        $"B3 {Leases,7} leases: {Statements} renewal statements in {Elapsed.TotalSeconds:0.0} s ({StatementsPerSecond:0.0}/s, {StatementsPerTick(window):0.000} per {window.TotalMilliseconds:0} ms tick, {SingleStatements} single-row); " +
        $"renewals {ObservedRenewalsPerSecond:0.0}/s vs leases ÷ P {LeasesPerPeriod:0.0} (ratio {RenewalRatio:0.000}; intervals {MinIntervalSeconds:0.00}–{MaxIntervalSeconds:0.00} s); " +
        $"n_tup_upd {RowsPerSecond:0.0}/s vs Σ 1/P {ExpectedRowsPerSecond:0.0} (ratio {RowsRatio:0.000}); renewed in the window {RenewedInWindow}/{Leases}, held at the end {HeldAtEnd}/{Leases}");
}
