using System.Text;
using CycleLock.Client;
using Npgsql;

namespace CycleLock.Tests.Grains;

/// <summary>Bad input gets a typed error naming the value and the rule, and changes nothing in the database.</summary>
[Collection(RealTimeCollection.Name)]
public sealed class BadInputTests(RealTimeClusterFixture fixture)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private readonly IClusterClient _client = fixture.Cluster.Client;

    public static TheoryData<string, string, string> BadNames => new()
    {
        { string.Empty, "must not be empty", "empty" },
        { new string('x', 257), "257 UTF-8 bytes", "ASCII over 256 bytes" },
        { string.Concat(Enumerable.Repeat("\u00e9", 129)), "258 UTF-8 bytes", "NFC over 256 bytes" },
        { "job\nname", "control character U+000A", "newline" },
        { "job\u0000", "control character U+0000", "NUL" },
        { " job", "leading or trailing white space", "leading space" },
        { "job\u200bname", "invisible format character U+200B", "zero-width space" },
        { "\ufeffjob", "invisible format character U+FEFF", "byte order mark" },
        { "job-\u202egnp.exe", "invisible format character U+202E", "right-to-left override" },
        { "job\ufffd", "replacement character U+FFFD", "replacement character" },
    };

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task Acquire_BadName_ThrowsNamingValueAndRuleAndChangesNothing(string name, string expected, string because)
    {
        var before = await CountRowsAsync();
        var locks = new CycleLockClient(_client);

        var sdk = await Assert.ThrowsAnyAsync<ArgumentException>(() => locks.TryAcquireAsync(name, Ttl));
        Assert.Contains(expected, sdk.Message, StringComparison.Ordinal);
        Assert.Contains("rule", sdk.Message, StringComparison.Ordinal);
        if (name.Length > 0)
        {
            // A worker calling the grain directly gets the same typed error from the grain (Orleans itself
            // refuses an empty key before any grain is reached).
            var grain = await Assert.ThrowsAnyAsync<ArgumentException>(() => _client.GetGrain<ICycleLockGrain>(name)
                .TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "h", LeaseKey.New(), Ttl)));
            Assert.Contains(expected, grain.Message, StringComparison.Ordinal);
            Assert.Contains("rule", grain.Message, StringComparison.Ordinal);
        }

        Assert.True(before == await CountRowsAsync(), $"{because}: the database changed");
    }

    [Fact]
    public async Task Acquire_TtlAboveTheSilosMaximum_IsRefusedNamingTheSetting_AndChangesNothing()
    {
        var name = "max-ttl/" + Guid.NewGuid().ToString("N")[..8];
        var before = await CountRowsAsync();

        // Raw grain call with a TTL under the absolute 24 h but above the default maximum of 1 h.
        var grain = await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(() => _client.GetGrain<ICycleLockGrain>(name)
            .TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "h", LeaseKey.New(), TimeSpan.FromHours(2))));
        var sdk = await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(() => new CycleLockClient(_client).TryAcquireAsync(name, TimeSpan.FromHours(2)));

        Assert.Contains("is above 01:00:00", grain.Message, StringComparison.Ordinal);
        Assert.Contains("CycleLock:Locks:MaxTtl", grain.Message, StringComparison.Ordinal);
        Assert.Contains("01:00:00", sdk.Message, StringComparison.Ordinal);
        Assert.Equal(before, await CountRowsAsync());
    }

    [Fact]
    public async Task ForceRelease_SkipDelay_IsRefusedUnlessTheSiloAllowsIt_AndChangesNothing()
    {
        var name = "skip-delay/" + Guid.NewGuid().ToString("N")[..8];
        var locks = new CycleLockClient(_client);
        await using var handle = (await locks.TryAcquireAsync(name, Ttl)).Handle!;
        var before = await CountRowsAsync();

        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => locks.ForceReleaseAsync(name, handle.Epoch, "hostile", "someone", skipDelay: true));

        Assert.Contains("CycleLock:Locks:AllowSkipDelay", error.Message, StringComparison.Ordinal);
        Assert.Equal(LockState.Held, (await locks.Grain(name).InspectAsync()).State);
        Assert.False(handle.LostToken.IsCancellationRequested);
        Assert.Equal(before, await CountRowsAsync());
    }

    [Fact]
    public async Task Acquire_NameWithLoneSurrogate_ThrowsNamingValueAndRule()
    {
        // Built here, not as theory data: theory data is serialised, which would replace the surrogate.
        var name = "bad" + (char)0xD800;
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => new CycleLockClient(_client).TryAcquireAsync(name, Ttl));

        Assert.Contains("lone surrogate U+D800", error.Message, StringComparison.Ordinal);
        Assert.Contains("rule", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Acquire_NameUnder256BytesOnlyAfterNfc_IsAcceptedAndStoredNormalised()
    {
        var decomposed = "nfc/" + string.Concat(Enumerable.Repeat("e\u0301", 100)); // 304 bytes as NFD, 204 as NFC
        Assert.True(Encoding.UTF8.GetByteCount(decomposed) > 256);
        var locks = new CycleLockClient(_client);

        var result = await locks.TryAcquireAsync(decomposed, Ttl);
        await using var handle = result.Handle!;

        Assert.Equal(decomposed.Normalize(NormalizationForm.FormC), handle.Name);
        Assert.Equal(LockState.Held, (await locks.Grain(decomposed.Normalize(NormalizationForm.FormC)).InspectAsync()).State);
    }

    public static TheoryData<double, string> BadTtls => new()
    {
        { 0, "below the floor" },
        { -5, "below the floor" },
        { 1, "below the floor" },
        { 24 * 3600 + 1, "above 01:00:00" },
    };

    [Theory]
    [MemberData(nameof(BadTtls))]
    public async Task Acquire_TtlOutOfBounds_ThrowsNamingValueAndRuleAndChangesNothing(double seconds, string expected)
    {
        var before = await CountRowsAsync();
        var ttl = TimeSpan.FromSeconds(seconds);
        var grain = _client.GetGrain<ICycleLockGrain>("bad-input/ttl");

        var error = await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "h", LeaseKey.New(), ttl)));

        Assert.Contains($"TTL {ttl}", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("rule", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await CountRowsAsync());
    }

    [Fact]
    public async Task Calls_EmptyHolderEmptyKeyOrNegativeEpoch_ThrowNamingValueAndRuleAndChangeNothing()
    {
        var name = "bad-input/" + Guid.NewGuid().ToString("N")[..8];
        var grain = _client.GetGrain<ICycleLockGrain>(name);
        var holder = Guid.NewGuid();
        var key = LeaseKey.New();
        var granted = await grain.TryAcquireAsync(new AcquireRequest(holder, "h", key, Ttl));
        var before = await CountRowsAsync();
        var history = (await grain.GetHistoryAsync(100, null)).Length;

        var errors = new List<ArgumentException>
        {
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.TryAcquireAsync(new AcquireRequest(Guid.Empty, "h", LeaseKey.New(), Ttl))),
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "h", new LeaseKey(string.Empty), Ttl))),
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.TryAcquireAsync(new AcquireRequest(Guid.NewGuid(), "bad\u0007label", LeaseKey.New(), Ttl))),
            await Assert.ThrowsAnyAsync<ArgumentException>(async () => await grain.KeepAliveAsync(new KeepAliveRequest(holder, key, -1))),
            await Assert.ThrowsAnyAsync<ArgumentException>(async () => await grain.KeepAliveAsync(new KeepAliveRequest(Guid.Empty, key, granted.Epoch))),
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.ReleaseAsync(new ReleaseRequest(holder, key, 0, ReleaseReason.Completed))),
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.ReleaseAsync(new ReleaseRequest(holder, new LeaseKey(" "), granted.Epoch, ReleaseReason.Completed))),
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.ReleaseAsync(new ReleaseRequest(holder, key, granted.Epoch, ReleaseReason.Stalled))),
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.AsReference<ILockOperatorGrain>().ForceReleaseAsync(new ForceReleaseRequest(-3, "why", "op", false))),
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.AsReference<ILockOperatorGrain>().ForceReleaseAsync(new ForceReleaseRequest(granted.Epoch, string.Empty, "op", false))),
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.AbandonAsync(new AbandonRequest(Guid.Empty, key))),
            await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.TryAcquireAsync(new AcquireRequest(holder, "h", key, Ttl + TimeSpan.FromSeconds(1)))),
        };

        Assert.All(errors, e => Assert.Contains("rule", e.Message, StringComparison.Ordinal));
        Assert.Contains("-1", errors[3].Message, StringComparison.Ordinal);
        Assert.Contains("-3", errors[8].Message, StringComparison.Ordinal);
        Assert.Equal(before, await CountRowsAsync());
        Assert.Equal(history, (await grain.GetHistoryAsync(100, null)).Length);
        var info = await grain.InspectAsync();
        Assert.Equal((LockState.Held, granted.Epoch, holder), (info.State, info.Epoch, info.HolderId));
    }

    private async Task<(long Rows, long History, long Spent)> CountRowsAsync()
    {
        await using var command = fixture.Postgres.DataSource.CreateCommand(
            "SELECT (SELECT count(*) FROM cyclelock.lease WHERE service_id = $1), (SELECT count(*) FROM cyclelock.history WHERE service_id = $1), (SELECT count(*) FROM cyclelock.spent_holder WHERE service_id = $1)");
        command.Parameters.Add(new NpgsqlParameter { Value = fixture.Cluster.ServiceId });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }
}
