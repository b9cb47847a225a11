using Microsoft.Extensions.Options;

namespace CycleLock.Leasing;

/// <summary>
/// Cross-field rules of the timing budget, checked at silo start: some TTL up to 24 h meets every
/// enforced rule, and P ≤ (TTL − m)/3 at the floor and at 24 h.
/// </summary>
public sealed class CycleLockOptionsValidator : IValidateOptions<CycleLockOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, CycleLockOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var floor = LeaseTiming.Floor(options);
        if (floor == TimeSpan.MaxValue)
        {
            failures.Add($"{CycleLockOptions.Section}:RenewFraction/HolderTimeoutFraction/MarginFraction/EstimatedFailover: no TTL up to {RequestRules.MaxTtl} meets the timing budget " +
                         "(P/2 ≥ MinAttemptTimeout, P ≤ (TTL − m)/3, TTL − P − m ≥ MinDatabaseFaultTolerance" +
                         (options.FailoverFloor == FailoverFloorMode.Enforce ? ", TTL − P − m > T_failover, ht − m_w ≥ T_failover + interval + kt)." : ")."));
        }
        else
        {
            if (floor > options.MaxTtl)
            {
                failures.Add($"{CycleLockOptions.Section}:MaxTtl = {options.MaxTtl} is below the TTL floor {floor} (rule: MaxTtl at least the floor, or no acquire could be granted).");
            }

            foreach (var ttl in new[] { floor, options.MaxTtl < floor ? floor : options.MaxTtl })
            {
                var t = LeaseTiming.For(ttl, options);
                if (t.RenewPeriod > (ttl - t.Margin) / 3)
                {
                    failures.Add($"{CycleLockOptions.Section}:RenewFraction {options.RenewFraction}: P = {t.RenewPeriod} exceeds (TTL − m)/3 = {(ttl - t.Margin) / 3} at TTL {ttl} (rule: P ≤ (TTL − m)/3).");
                }

                if (t.HolderTimeout <= t.RenewPeriod)
                {
                    failures.Add($"{CycleLockOptions.Section}:HolderTimeoutFraction {options.HolderTimeoutFraction}: ht = {t.HolderTimeout} is not above P = {t.RenewPeriod} at TTL {ttl} (rule: ht > P).");
                }
            }
        }

        var smallestAttempt = options.MinAttemptTimeout < options.MaxAttemptTimeout ? options.MinAttemptTimeout : options.MaxAttemptTimeout;
        if (options.CoalescingWindow > smallestAttempt / 2)
        {
            failures.Add($"{CycleLockOptions.Section}:CoalescingWindow {options.CoalescingWindow} exceeds min(MinAttemptTimeout, MaxAttemptTimeout) / 2 = {smallestAttempt / 2} " +
                         "(rule: a renewal handed to the coalescer early leaves at least half of the smallest attempt budget for its statement).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
