using System.Diagnostics;

namespace CycleLock.Tests.Infrastructure;

/// <summary>Polls a condition until it holds, failing the test with <c>what</c> after <c>within</c>.</summary>
public static class Wait
{
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan within, string what, int pollMs = 20)
    {
        var until = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (!await condition())
        {
            Assert.True(Stopwatch.GetTimestamp() < until, $"timed out after {within}: {what}");
            await Task.Delay(pollMs);
        }
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan within, string what, int pollMs = 20) =>
        UntilAsync(() => Task.FromResult(condition()), within, what, pollMs);
}
