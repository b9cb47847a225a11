namespace CycleLock.Leasing;

/// <summary>
/// The waiters of one lock in one activation (DESIGN §5), free of Orleans and of the database: a
/// first-come-first-served queue of registrations that lapse unless renewed, and at most one offer at a
/// time. The lock is offered to the head when the activation believes it free; the offered waiter takes it
/// with its own acquire (its own send time); a missed window passes the offer to the next waiter.
/// All times are monotonic offsets supplied by the caller. Fairness is best effort; safety never depends
/// on it (every grant is the database's).
/// </summary>
/// <typeparam name="TTarget">Where notifications go (a grain observer reference in the grain).</typeparam>
public sealed class WaitingRoom<TTarget>
    where TTarget : class
{
    private readonly LinkedList<Waiter> _queue = new();
    private readonly Dictionary<Guid, LinkedListNode<Waiter>> _byId = [];
    private readonly int _capacity;
    private readonly TimeSpan _offerWindow;
    private (Guid Id, TimeSpan Until, bool Answering)? _offer;

    /// <summary>Creates a room holding at most <paramref name="capacity"/> waiters with offers open for <paramref name="offerWindow"/>.</summary>
    public WaitingRoom(int capacity, TimeSpan offerWindow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(offerWindow, TimeSpan.Zero);
        _capacity = capacity;
        _offerWindow = offerWindow;
    }

    /// <summary>Registered waiters.</summary>
    public int Count => _queue.Count;

    /// <summary>The waiter the lock is offered to now, if any.</summary>
    public Guid? OfferedTo => _offer?.Id;

    /// <summary>The offer window.</summary>
    public TimeSpan OfferWindow => _offerWindow;

    /// <summary>Until when the lock is believed busy (from the database's time left in a busy answer).</summary>
    public TimeSpan BusyUntil { get; private set; }

    /// <summary>Registers or renews a waiter until <paramref name="now"/> + <paramref name="lapse"/>.
    /// Returns its 1-based position, or 0 when the room is full.</summary>
    public int Register(Guid id, TTarget target, TimeSpan now, TimeSpan lapse)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (_byId.TryGetValue(id, out var node))
        {
            node.Value.Target = target;
            node.Value.LapsesAt = now + lapse;
            return PositionOf(node);
        }

        if (_queue.Count >= _capacity)
        {
            return 0;
        }

        _byId[id] = _queue.AddLast(new Waiter(id, target, now + lapse));
        return _queue.Count;
    }

    /// <summary>Forgets a waiter (it gave up or acquired). An offer to it is withdrawn.</summary>
    public bool Remove(Guid id)
    {
        if (_offer?.Id == id)
        {
            _offer = null;
        }

        if (!_byId.Remove(id, out var node))
        {
            return false;
        }

        _queue.Remove(node);
        return true;
    }

    /// <summary>Drops lapsed registrations, and the waiter whose offer window passed unanswered: it loses its
    /// turn (a waiter that is alive but slow finds the lock busy and registers again, at the back). Passing a
    /// missed offer along while keeping the waiter queued let two vanished waiters hand the offer back and
    /// forth until their registrations lapsed, starving every live acquirer of a free lock.</summary>
    public void Expire(TimeSpan now)
    {
        if (_offer is { Answering: false } offer && now >= offer.Until)
        {
            _offer = null;
            Remove(offer.Id);
        }

        var node = _queue.First;
        while (node is not null)
        {
            var next = node.Next;
            if (now >= node.Value.LapsesAt)
            {
                Remove(node.Value.Id);
            }

            node = next;
        }
    }

    /// <summary>The offered waiter's acquire has arrived: its window no longer runs out while that acquire is on its
    /// way to the database (a slow database must not cost an answering waiter its turn). The acquire's answer ends the
    /// offer (a grant removes the waiter, a busy answer withdraws it); <see cref="AnswerFailed"/> when it failed.</summary>
    public void Answering(Guid id)
    {
        if (_offer is { } offer && offer.Id == id)
        {
            _offer = offer with { Answering = true };
        }
    }

    /// <summary>The offered waiter's acquire failed without an answer: its window runs out now, as if missed.</summary>
    public void AnswerFailed(Guid id, TimeSpan now)
    {
        if (_offer is { Answering: true } offer && offer.Id == id)
        {
            _offer = (id, now, false);
        }
    }

    /// <summary>Records that the lock is busy until <paramref name="until"/>; an open offer is withdrawn
    /// (the offered waiter stays at the head and is offered again then).</summary>
    public void Busy(TimeSpan until)
    {
        BusyUntil = until;
        _offer = null;
    }

    /// <summary>True when a non-holder acquire must give way: waiters are queued and
    /// <paramref name="waiterId"/> is neither the offered waiter nor (with no offer open) the head.</summary>
    public bool MustGiveWay(Guid waiterId)
    {
        if (_queue.Count == 0)
        {
            return false;
        }

        return _offer is { } offer ? offer.Id != waiterId : _queue.First!.Value.Id != waiterId;
    }

    /// <summary>When the lock is believed free at <paramref name="now"/> and no offer is open, offers it to
    /// the head and returns the head's target; otherwise null.</summary>
    public (Guid Id, TTarget Target)? TryOffer(TimeSpan now, bool free)
    {
        if (!free || _offer is not null || _queue.First is not { } head || now < BusyUntil)
        {
            return null;
        }

        _offer = (head.Value.Id, now + _offerWindow, false);
        return (head.Value.Id, head.Value.Target);
    }

    /// <summary>Removes every waiter and returns them (the lock is dead: each is told so).</summary>
    public List<(Guid Id, TTarget Target)> Clear()
    {
        var all = _queue.Select(w => (w.Id, w.Target)).ToList();
        _queue.Clear();
        _byId.Clear();
        _offer = null;
        return all;
    }

    /// <summary>The next instant the room needs attention (a lapse, the end of the offer window, the end of
    /// a busy period), or null when it is empty.</summary>
    public TimeSpan? NextDue(TimeSpan now)
    {
        if (_queue.Count == 0)
        {
            return null;
        }

        var due = _offer?.Until ?? (BusyUntil > now ? BusyUntil : TimeSpan.MaxValue);
        foreach (var waiter in _queue)
        {
            if (waiter.LapsesAt < due)
            {
                due = waiter.LapsesAt;
            }
        }

        return due;
    }

    /// <summary>1-based position of a waiter, or 0 when it is not registered.</summary>
    public int PositionOf(Guid id) => _byId.TryGetValue(id, out var node) ? PositionOf(node) : 0;

    private static int PositionOf(LinkedListNode<Waiter> node)
    {
        var position = 1;
        for (var n = node.Previous; n is not null; n = n.Previous)
        {
            position++;
        }

        return position;
    }

    private sealed class Waiter(Guid id, TTarget target, TimeSpan lapsesAt)
    {
        public Guid Id { get; } = id;

        public TTarget Target { get; set; } = target;

        public TimeSpan LapsesAt { get; set; } = lapsesAt;
    }
}
