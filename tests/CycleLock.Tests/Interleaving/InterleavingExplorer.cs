using System.Text;
using CycleLock.Client;
using CycleLock.Leasing;
using CycleLock.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace CycleLock.Tests.Interleaving;

/// <summary>
/// Drives two grain activations (real <see cref="LeaseCore"/>s with the grain's serialization rules),
/// two holders (the SDK's <see cref="LeaseValidity"/> with m_w = 0, the strictest check), an operator
/// and a stepped store through one random schedule, and checks S2 after every step: every ValidUntil a
/// holder could hold precedes the next possible grant of the lock. Everything runs synchronously on
/// one thread: store replies are delivered by the explorer and continuations run inline.
/// </summary>
public sealed class InterleavingExplorer
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(12);
    private const string Lock = "job";

    private static readonly CycleLockOptions Options = new() { FailoverFloor = FailoverFloorMode.Warn, MaxStalls = 0 };
    private static readonly LeaseTiming Timing = LeaseTiming.For(Ttl, Options);
    private static readonly TimeSpan[] Steps =
    [
        TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), Timing.RenewPeriod / 2, Timing.RenewPeriod,
        Timing.HolderTimeout / 2, Timing.HolderTimeout, Ttl / 2,
    ];

    private readonly Random _random;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryLeaseStore _db;
    private readonly SteppedLeaseStore _store;
    private readonly Activation[] _activations;
    private readonly Holder[] _holders;
    private readonly StringBuilder _trace = new();
    private int _activationCounter;

    public InterleavingExplorer(int seed)
    {
        _random = new Random(seed);
        _db = new InMemoryLeaseStore(_time);
        _store = new SteppedLeaseStore(_db);
        _activations = [NewActivation("A"), NewActivation("B")];
        _holders = [new Holder("h1", _time), new Holder("h2", _time)];
    }

    public Coverage Seen { get; } = new();

    public string Trace => _trace.ToString();

    /// <summary>Runs <paramref name="steps"/> random steps; returns a violation, or null.</summary>
    public string? Run(int steps)
    {
        for (var i = 0; i < steps; i++)
        {
            var actions = EnabledActions();
            var (label, action) = actions[_random.Next(actions.Count)];
            _trace.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i,3} t={(_time.GetUtcNow() - _start).TotalSeconds,6:0.00}s {label}\n");
            action();
            if (CheckS2() is { } violation)
            {
                return $"step {i} ({label}): {violation}";
            }
        }

        return null;
    }

    private readonly DateTimeOffset _start = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    private List<(string, Action)> EnabledActions()
    {
        var actions = new List<(string, Action)>
        {
            ($"advance {Steps[0]}", () => _time.Advance(Steps[0])),
        };
        var step = Steps[_random.Next(Steps.Length)];
        actions.Add(($"advance {step}", () => _time.Advance(step)));

        foreach (var a in _activations)
        {
            if (a.Idle && a.TimerDue is { } due && _time.GetUtcNow() >= due)
            {
                actions.Add(($"timer {a.Id}", () => a.Start(a.Core.OnTimerAsync(CancellationToken.None), () => { })));
            }

            if (a.Idle && _db.GetAsync(Lock, CancellationToken.None).Result is { State: LockState.Held } row)
            {
                actions.Add(($"operator force-release epoch {row.Epoch} via {a.Id} ({(a.Core.Epoch == row.Epoch ? "serving" : "not serving")})", () =>
                {
                    if (a.Core.Epoch != row.Epoch)
                    {
                        Seen.ForceReleaseThroughNonServing++;
                    }

                    a.Start(a.Core.ForceReleaseAsync(new ForceReleaseRequest(row.Epoch, "explorer", "operator", false), "ops", CancellationToken.None), () => { });
                }));
            }

            if (_random.Next(20) == 0)
            {
                actions.Add(($"activation {a.Id} dies", () => Replace(a)));
            }
        }

        foreach (var h in _holders)
        {
            foreach (var a in _activations)
            {
                AddHolderActions(actions, h, a);
            }
        }

        for (var i = 0; i < _store.Pending.Count; i++)
        {
            var call = _store.Pending[i];
            if (!call.Committed)
            {
                actions.Add(($"db commits {call}", call.Commit));
                actions.Add(($"db call fails before commit {call}", () => Fail(call)));
            }
            else
            {
                actions.Add(($"reply {call.Result!.Outcome} for {call}", () => Deliver(call)));
                actions.Add(($"reply lost after commit {call}", () => Fail(call)));
            }
        }

        return actions;
    }

    private void AddHolderActions(List<(string, Action)> actions, Holder h, Activation a)
    {
        switch (h.State)
        {
            case HolderState.Idle when a.Idle:
                actions.Add(($"{h.Name} acquires via {a.Id}", () => h.Acquire(a, fresh: true)));
                break;
            case HolderState.AcquireUnknown when a.Idle:
                actions.Add(($"{h.Name} retries acquire via {a.Id}", () => h.Acquire(a, fresh: false)));
                actions.Add(($"{h.Name} abandons via {a.Id}", () => h.Abandon(a)));
                break;
            case HolderState.Holding:
                actions.Add(($"{h.Name} keep-alive to {a.Id}", () =>
                {
                    if (a.Core.Phase == LeasePhase.Ending && a.Core.Epoch == h.Epoch)
                    {
                        Seen.KeepAliveDuringEnding++;
                    }

                    h.KeepAlive(a);
                }));
                if (a.Idle)
                {
                    actions.Add(($"{h.Name} releases via {a.Id}", () => h.Release(a)));
                }

                break;
        }
    }

    private void Deliver(PendingCall call)
    {
        _store.Pending.Remove(call);
        call.Reply.SetResult(call.Result!);
        AfterTurns();
    }

    private void Fail(PendingCall call)
    {
        _store.Pending.Remove(call);
        call.Reply.SetException(new IOException($"{call.Operation}: connection lost"));
        AfterTurns();
    }

    private void AfterTurns()
    {
        foreach (var a in _activations.ToArray())
        {
            a.ApplyTimer(_time.GetUtcNow());
            if (a.WantsDeactivation && a.Idle)
            {
                Replace(a);
            }
        }
    }

    private void Replace(Activation a)
    {
        var index = Array.IndexOf(_activations, a);
        _activations[index] = NewActivation(a.Id[..1]);
    }

    private Activation NewActivation(string prefix) =>
        new($"{prefix}{++_activationCounter}", new LeaseCore(Lock, $"act-{prefix}{_activationCounter}", _store, _time, Options));

    // S2: a holder's ValidUntil never passes the earliest moment the lock could be granted to anyone else.
    private string? CheckS2()
    {
        var now = _time.GetUtcNow();
        var row = _db.GetAsync(Lock, CancellationToken.None).Result;
        var history = _db.AllHistory;
        foreach (var h in _holders)
        {
            if (h.State != HolderState.Holding || !h.Validity.IsValid)
            {
                continue;
            }

            var validUntil = now + h.Validity.Remaining;
            foreach (var grant in history.Where(e => e.Event == "granted" && e.Epoch > h.Epoch))
            {
                if (validUntil > grant.At)
                {
                    return $"{h.Name} epoch {h.Epoch} valid until {validUntil:HH:mm:ss.fff} but epoch {grant.Epoch} was granted at {grant.At:HH:mm:ss.fff}";
                }
            }

            var nextGrant = row.State == LockState.Held && row.Epoch == h.Epoch
                ? Max(row.ExpiresAt!.Value, row.FenceUntil ?? DateTimeOffset.MinValue)
                : Max(now, row.FenceUntil ?? DateTimeOffset.MinValue);
            if (row.State == LockState.Held && row.Epoch != h.Epoch)
            {
                nextGrant = now;
            }

            if (validUntil > nextGrant)
            {
                return $"{h.Name} epoch {h.Epoch} valid until {validUntil:HH:mm:ss.fff}, but the lock could be granted at {nextGrant:HH:mm:ss.fff} (row {row.State} epoch {row.Epoch}, expires {row.ExpiresAt:HH:mm:ss.fff}, fence {row.FenceUntil:HH:mm:ss.fff})";
            }
        }

        return null;
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    public sealed class Coverage
    {
        public int KeepAliveDuringEnding { get; set; }

        public int ForceReleaseThroughNonServing { get; set; }

        public int Grants { get; set; }

        public int Adoptions { get; set; }

        public int MovedAnswers { get; set; }
    }

    private enum HolderState
    {
        Idle,
        Acquiring,
        AcquireUnknown,
        Holding,
    }

    /// <summary>One activation: a LeaseCore plus the grain's rules (one serialized turn at a time, one timer).</summary>
    private sealed class Activation(string id, LeaseCore core)
    {
        private Task _turn = Task.CompletedTask;

        public string Id { get; } = id;

        public LeaseCore Core { get; } = core;

        public DateTimeOffset? TimerDue { get; private set; }

        public bool WantsDeactivation { get; private set; }

        public bool Idle => _turn.IsCompleted;

        public void Start(Task turn, Action after)
        {
            _turn = turn.ContinueWith(t => { _ = t.Exception; after(); }, TaskContinuationOptions.ExecuteSynchronously);
        }

        public void ApplyTimer(DateTimeOffset now)
        {
            if (Core.TakeTimerRequest() is { } request)
            {
                TimerDue = request.Due is { } due ? now + due : null;
                WantsDeactivation |= request.Deactivate;
            }
        }
    }

    private sealed class Holder(string name, TimeProvider time)
    {
        private Guid _holderId;
        private LeaseKey _key;

        public string Name { get; } = name;

        public HolderState State { get; private set; }

        public long Epoch { get; private set; }

        public LeaseValidity Validity { get; private set; } = new(time, TimeSpan.Zero);

        public void Acquire(Activation a, bool fresh)
        {
            if (fresh)
            {
                _holderId = Guid.NewGuid();
                _key = LeaseKey.New();
            }

            State = HolderState.Acquiring;
            var validity = new LeaseValidity(time, TimeSpan.Zero);
            var sent = validity.Mark();
            var call = a.Core.AcquireAsync(new AcquireRequest(_holderId, Name, _key, Ttl), CancellationToken.None);
            a.Start(call, () =>
            {
                if (call.IsCompletedSuccessfully && call.Result.Status == AcquireStatus.Granted)
                {
                    validity.OnHeld(sent, call.Result.ValidFor);
                    Validity = validity;
                    Epoch = call.Result.Epoch;
                    State = HolderState.Holding;
                }
                else
                {
                    State = call.IsCompletedSuccessfully ? HolderState.Idle : HolderState.AcquireUnknown;
                }
            });
        }

        public void Abandon(Activation a)
        {
            State = HolderState.Acquiring;
            var call = a.Core.AbandonAsync(new AbandonRequest(_holderId, _key), CancellationToken.None);
            a.Start(call, () => State = HolderState.Idle);
        }

        public void KeepAlive(Activation a)
        {
            var request = new KeepAliveRequest(_holderId, _key, Epoch);
            var sent = Validity.Mark();
            if (!Validity.IsValid)
            {
                State = HolderState.Idle; // LostToken fired at ValidUntil
                return;
            }

            if (a.Core.TryAnswerKeepAlive(request) is { } reply)
            {
                OnReply(reply, sent);
            }
            else if (a.Idle)
            {
                var call = a.Core.AdoptAsync(request, CancellationToken.None);
                a.Start(call, () =>
                {
                    if (call.IsCompletedSuccessfully && State == HolderState.Holding && Epoch == request.Epoch)
                    {
                        OnReply(call.Result, sent);
                    }
                });
            }
        }

        public void Release(Activation a)
        {
            // The holder stops acting as soon as it sends the release.
            State = HolderState.Idle;
            var call = a.Core.ReleaseAsync(new ReleaseRequest(_holderId, _key, Epoch, ReleaseReason.Completed), CancellationToken.None);
            a.Start(call, () => { });
        }

        private void OnReply(KeepAliveReply reply, (long, DateTimeOffset) sent)
        {
            switch (reply.Status)
            {
                case KeepAliveStatus.Held when reply.Epoch == Epoch:
                    Validity.OnHeld(sent, reply.ValidFor);
                    break;
                case KeepAliveStatus.Moved or KeepAliveStatus.Uncertain:
                    break;
                default:
                    State = HolderState.Idle;
                    break;
            }
        }
    }
}
