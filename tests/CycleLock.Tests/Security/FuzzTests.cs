using System.Globalization;
using System.Text;
using CsCheck;
using CycleLock.Client;
using CycleLock.Security;

namespace CycleLock.Tests.Security;

/// <summary>
/// Property-based tests (CsCheck) over every request record and lock name a client can send (issue 15): for any
/// input the answer is success or an <see cref="ArgumentException"/> naming the value and the rule — never another
/// exception type, never a message that carries the whole input. The database side is in <see cref="FuzzDatabaseTests"/>.
/// </summary>
public sealed class FuzzTests
{
    // Any UTF-16 code unit, weighted towards the ones that break names: surrogates, format and control characters,
    // combining marks, white space, U+FFFD, and the separators names use.
    internal static readonly Gen<char> Chars = Gen.Frequency(
        (6, (IGen<char>)Gen.Char['a', 'z']),
        (3, Gen.Char),
        (2, Gen.Char["\u200B\u200D\u202E\u2066\uFEFF\uFFFD\uD800\uDBFF\uDC00\uDFFF\u0000\u0007\u001B\u007F\u0085\u2028\t\n \u00A0\u0301\u00E9\u1E9B\u212B/-_.:*"]));

    internal static readonly Gen<string> Strings = Gen.Frequency(
        (8, (IGen<string>)Chars.Array[0, 40].Select(a => new string(a))),
        (1, Chars.Array[250, 300].Select(a => new string(a))),
        (1, Gen.Char['a', 'z'].Array[250, 1100].Select(a => new string(a))));

    internal static readonly Gen<TimeSpan> Ttls = Gen.Frequency(
        (3, (IGen<TimeSpan>)Gen.Long.Select(t => TimeSpan.FromTicks(t))),
        (3, Gen.Int[-10, 200_000].Select(ms => TimeSpan.FromMilliseconds(ms))),
        (1, Gen.OneOf(TimeSpan.Zero, TimeSpan.MaxValue, TimeSpan.MinValue, RequestRules.MaxTtl, TimeSpan.FromSeconds(3))));

    internal static readonly Gen<Guid> Guids = Gen.Frequency((5, (IGen<Guid>)Gen.Guid), (1, Gen.Const(Guid.Empty)));

    internal static readonly Gen<LeaseKey> Keys = Gen.Frequency((3, (IGen<LeaseKey>)Gen.Const(LeaseKey.New)), (2, Strings.Select(s => new LeaseKey(s))));

    internal static readonly Gen<long> Epochs = Gen.Frequency((3, (IGen<long>)Gen.Long), (2, Gen.Long[-3, 5]));

    [Fact]
    public void Names_AreNormalisedToAValidName_OrRefusedNamingTheRule()
    {
        Strings.Sample(name =>
        {
            string normalized;
            try
            {
                normalized = LockName.Normalize(name);
            }
            catch (ArgumentException e)
            {
                return Refusal(e);
            }

            var valid = normalized.Normalize(NormalizationForm.FormC) == normalized
                && Encoding.UTF8.GetByteCount(normalized) <= LockName.MaxUtf8Bytes
                && normalized.Length > 0 && !char.IsWhiteSpace(normalized[0]) && !char.IsWhiteSpace(normalized[^1])
                && normalized.EnumerateRunes().All(r => !Rune.IsControl(r) && r.Value != 0xFFFD && Rune.GetUnicodeCategory(r) != UnicodeCategory.Format)
                && LockName.Normalize(normalized) == normalized
                && LockName.IsNormalized(normalized);
            return valid;
        }, iter: 20_000, print: Show);
    }

    [Fact]
    public void EveryRequestRecord_PassesOrIsRefusedNamingTheRule()
    {
        var floor = TimeSpan.FromSeconds(3);
        var acquire = Gen.Select(Guids, Strings, Keys, Ttls, Guids, (h, l, k, t, w) => new AcquireRequest(h, l, k, t, w));
        var keepAlive = Gen.Select(Guids, Keys, Epochs, (h, k, e) => new KeepAliveRequest(h, k, e));
        var release = Gen.Select(Guids, Keys, Epochs, Gen.Int[-2, 12], (h, k, e, r) => new ReleaseRequest(h, k, e, (ReleaseReason)r));
        var force = Gen.Select(Epochs, Strings, Strings, Gen.Bool, (e, r, b, s) => new ForceReleaseRequest(e, r, b, s));
        var abandon = Gen.Select(Guids, Keys, (h, k) => new AbandonRequest(h, k));
        var wait = Gen.Select(Guids, Strings, Ttls, (w, l, t) => new WaitRequest(w, l, t, null!));

        acquire.Sample(r => Check(() => RequestRules.Acquire(r, floor, TimeSpan.FromHours(1))), iter: 5_000, print: Show);
        keepAlive.Sample(r => Check(() => RequestRules.KeepAlive(r)), iter: 5_000, print: Show);
        release.Sample(r => Check(() => RequestRules.Release(r)), iter: 5_000, print: Show);
        force.Sample(r => Check(() => RequestRules.ForceRelease(r)), iter: 5_000, print: Show);
        abandon.Sample(r => Check(() => RequestRules.Abandon(r)), iter: 5_000, print: Show);
        wait.Sample(r => Check(() => RequestRules.Wait(r, floor)), iter: 5_000, print: Show);
    }

    [Fact]
    public void CredentialsAndNamePatterns_AreCheckedWithoutEverFailingOtherwise()
    {
        Strings.Sample(text =>
        {
            // A pattern either has a problem (and Parse refuses it the same way) or parses and matches its own text.
            if (NamePattern.Problem(text) is { } problem)
            {
                return Refusal(Assert.ThrowsAny<ArgumentException>(() => NamePattern.Parse(text))) && problem.Contains("rule", StringComparison.Ordinal);
            }

            var pattern = NamePattern.Parse(text);
            return pattern.Matches(pattern.Text);
        }, iter: 10_000, print: Show);

        Strings.Sample(text =>
        {
            var problem = CycleLockClientOptionsValidator.CredentialProblem(text);
            return problem is null
                ? text.IndexOf(':', StringComparison.Ordinal) > 0
                : problem.Contains("rule", StringComparison.Ordinal) && !(text.Length > 8 && problem.Contains(text, StringComparison.Ordinal));
        }, iter: 10_000, print: Show);
    }

    internal static string Show<T>(T value) => value switch
    {
        string s => LockName.Quote(s) + $" ({s.Length} chars)",
        _ => LockName.Quote(value?.ToString() ?? "null"),
    };

    // A refusal names the rule and stays short: the input is quoted (at most 80 characters), never echoed whole.
    internal static bool Refusal(ArgumentException e) => e.Message.Contains("rule", StringComparison.Ordinal) && e.Message.Length < 1_000;

    private static bool Check(Action rules)
    {
        try
        {
            rules();
            return true;
        }
        catch (ArgumentException e)
        {
            return Refusal(e);
        }
    }
}
