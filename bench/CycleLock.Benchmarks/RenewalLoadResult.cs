using System.Globalization;

namespace CycleLock.Benchmarks;

/// <summary>B3's rows and B4's memory figure.</summary>
public sealed record RenewalLoadResult(IReadOnlyList<RenewalLoadRow> Rows, long RssBeforeBytes, long RssAfterBytes, int Leases)
{
    public double BytesPerLease => (RssAfterBytes - RssBeforeBytes) / (double)Leases;

    public string FormatMemory() => string.Create(CultureInfo.InvariantCulture,
        $"B4 memory: silo RSS {RssBeforeBytes / 1048576.0:0} MiB before, {RssAfterBytes / 1048576.0:0} MiB with {Leases} held leases: {BytesPerLease / 1024:0.0} KiB per lease (target: {Leases} leases in ≤ 1 GiB RSS)");
}
