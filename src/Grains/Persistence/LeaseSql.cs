namespace CycleLock.Persistence;

/// <summary>
/// Every statement the lease store sends, in one place. Parameters only; the operations themselves are
/// the PL/pgSQL functions of <c>Migrations/0001_lease_core.sql</c>, so each is one statement and one
/// round trip, and none relies on session state (safe behind a transaction-mode pooler).
/// </summary>
internal static class LeaseSql
{
    private const string Columns = "outcome, epoch, holder_id, holder_label, activation, prev_activation, remaining, fence_until, db_now, ttl, attempts, stalls, reason, sync_commit";

    public const string Acquire = $"SELECT {Columns} FROM cyclelock.acquire($1, $2, $3, $4, $5, $6, $7, $8)";

    public const string Adopt = $"SELECT {Columns} FROM cyclelock.adopt($1, $2, $3, $4, $5, $6)";

    public const string Renew = $"SELECT {Columns} FROM cyclelock.renew($1, $2, $3, $4, $5, $6)";

    public const string Release = $"SELECT {Columns} FROM cyclelock.release($1, $2, $3, $4, $5, $6, $7, $8, $9)";

    public const string ForceRelease = $"SELECT {Columns} FROM cyclelock.force_release($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

    public const string Abandon = $"SELECT {Columns} FROM cyclelock.abandon($1, $2, $3, $4)";

    public const string Reset = $"SELECT {Columns} FROM cyclelock.reset($1, $2, $3, $4)";

    // Coalesced renewal and adoption (migration 0004): one row per input, in input order.
    public const string RenewMany = "SELECT r.out_ord, (r.out_result).* FROM cyclelock.renew_many($1, $2, $3, $4, $5, $6) r";

    // Coalesced grants, releases and abandons (migration 0010): one row per input, in name order, keyed by ord.
    public const string ChangeMany = "SELECT r.out_ord, (r.out_result).* FROM cyclelock.change_many($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) r";

    public const string AdoptMany = "SELECT r.out_ord, (r.out_result).* FROM cyclelock.adopt_many($1, $2, $3, $4, $5, $6) r";

    private const string LockColumns = """
        name, state, epoch, holder_id, holder_label, acquired_at, renewed_at, expires_at, fence_until,
        GREATEST(COALESCE(CASE WHEN state = 'held' THEN expires_at ELSE fence_until END, '-infinity'), clock_timestamp()) - clock_timestamp() AS time_left,
        ttl, attempts, stalls, last_release_reason, activation
        """;

    public const string Get = $"SELECT {LockColumns} FROM cyclelock.lease WHERE service_id = $1 AND name = $2";

    // The console's page: filtered and counted in one statement; /*order*/ is replaced by one of QueryOrder's fixed orderings.
    public const string QueryLocks = $"""
        WITH l AS (
            SELECT {LockColumns},
                   CASE WHEN state = 'held' AND expires_at <= clock_timestamp() THEN 'expired' ELSE state END AS shown
            FROM cyclelock.lease
            WHERE service_id = $1
              AND ($2::text IS NULL OR starts_with(name, $2))
              AND ($4::text IS NULL OR (state = 'held' AND strpos(lower(COALESCE(holder_label, '')), lower($4)) > 0))
        )
        SELECT *, count(*) OVER () AS total FROM l
        WHERE $3::text IS NULL OR shown = $3 OR ($3 = 'jeopardy' AND shown = 'held' AND time_left < ttl / 6)
        ORDER BY /*order*/
        LIMIT $5 OFFSET $6
        """;

    public static string QueryOrder(LockSort sort) => sort switch
    {
        LockSort.TimeLeft => "CASE WHEN shown = 'held' THEN 0 ELSE 1 END, time_left, name",
        LockSort.EpochDescending => "epoch DESC, name",
        LockSort.AcquiredDescending => "acquired_at DESC NULLS LAST, name",
        LockSort.Holder => "holder_label NULLS LAST, name",
        _ => "name",
    };

    public const string Summary = """
        SELECT
            count(*) FILTER (WHERE state = 'held' AND expires_at > clock_timestamp()),
            count(*) FILTER (WHERE state = 'free' OR (state = 'held' AND expires_at <= clock_timestamp())),
            count(*) FILTER (WHERE state = 'dead'),
            count(*) FILTER (WHERE state = 'held' AND expires_at > clock_timestamp() AND expires_at - clock_timestamp() < ttl / 6),
            (SELECT count(*) FROM cyclelock.history h
             WHERE h.service_id = $1 AND h.at > clock_timestamp() - interval '1 minute' AND h.event = 'granted'),
            (SELECT count(*) FROM cyclelock.history h
             WHERE h.service_id = $1 AND h.at > clock_timestamp() - interval '1 minute'
               AND (h.event IN ('lost', 'expired', 'force-released') OR (h.event = 'released' AND h.reason = 'stalled')))
        FROM cyclelock.lease
        WHERE service_id = $1
        """;

    // The window's events of each lock, and the last event before it (a lease granted earlier and still open starts
    // its bar at the window's start).
    public const string RecentHistory = """
        SELECT * FROM (
            SELECT id, name, epoch, event, holder_id, holder_label, reason, activation, prev_activation, by_whom, at, operator
            FROM cyclelock.history
            WHERE service_id = $1 AND name = ANY($2) AND at > $3
            UNION ALL
            SELECT * FROM (
                SELECT DISTINCT ON (name) id, name, epoch, event, holder_id, holder_label, reason, activation, prev_activation, by_whom, at, operator
                FROM cyclelock.history
                WHERE service_id = $1 AND name = ANY($2) AND at <= $3
                ORDER BY name, id DESC
            ) before_window
        ) h
        ORDER BY id
        LIMIT $4
        """;

    public const string List = $"SELECT {LockColumns} FROM cyclelock.lease WHERE service_id = $1 AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3";

    // Batched, and SKIP LOCKED so silos pruning at once do not queue behind each other.
    public const string PruneHistory = """
        WITH doomed AS (
            SELECT id FROM cyclelock.history
            WHERE service_id = $1 AND at < clock_timestamp() - $2::interval
            ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
        DELETE FROM cyclelock.history h USING doomed WHERE h.id = doomed.id
        """;

    public const string PruneSpent = """
        WITH doomed AS (
            SELECT name, holder_id FROM cyclelock.spent_holder
            WHERE service_id = $1 AND spent_at < clock_timestamp() - $2::interval
            LIMIT $3 FOR UPDATE SKIP LOCKED)
        DELETE FROM cyclelock.spent_holder s USING doomed
        WHERE s.service_id = $1 AND s.name = doomed.name AND s.holder_id = doomed.holder_id
        """;

    // Free lease rows unused for the history retention (every time on the row older than it, the fence passed).
    // The epoch sequence, not the row, keeps epochs increasing, so a name used again starts a new row safely.
    // Rows never granted are left alone, and SKIP LOCKED passes over a row an acquire holds: an acquire that
    // finds its row deleted under it inserts a fresh one (the row lock it waited for reports no row).
    public const string PruneLeases = """
        WITH doomed AS (
            SELECT name FROM cyclelock.lease
            WHERE service_id = $1 AND state = 'free' AND acquired_at IS NOT NULL
              AND GREATEST(acquired_at, renewed_at, expires_at, fence_until) < clock_timestamp() - $2::interval
            LIMIT $3 FOR UPDATE SKIP LOCKED)
        DELETE FROM cyclelock.lease l USING doomed WHERE l.service_id = $1 AND l.name = doomed.name
        """;

    public const string History = """
        SELECT id, name, epoch, event, holder_id, holder_label, reason, activation, prev_activation, by_whom, at, operator
        FROM cyclelock.history
        WHERE service_id = $1 AND name = $2 AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC
        LIMIT $4
        """;

    // The scheduler's feed: end events a scheduler acts on (stall releases, losses, expiries,
    // force-releases), oldest first, with the lock's counters as they are now, and the horizon of this
    // statement's snapshot (the largest visible history id and the snapshot's xmin/xmax), from which the
    // feed knows when every smaller id is final. One snapshot for both: pg_current_snapshot() is the
    // statement's active snapshot.
    public const string Events = """
        WITH horizon AS (
            SELECT (SELECT COALESCE(max(id), 0) FROM cyclelock.history) AS max_id,
                   pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
                   pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax)
        SELECT horizon.max_id, horizon.xmin, horizon.xmax,
               e.id, e.name, e.epoch, e.event, e.holder_id, e.holder_label, e.reason, e.at, e.attempts, e.stalls, e.dead
        FROM horizon
        LEFT JOIN LATERAL (
            SELECT h.id, h.name, h.epoch, h.event, h.holder_id, h.holder_label, COALESCE(h.reason, h.by_whom) AS reason, h.at,
                   COALESCE(l.attempts, 0) AS attempts, COALESCE(l.stalls, 0) AS stalls, COALESCE(l.state = 'dead', false) AS dead
            FROM cyclelock.history h
            LEFT JOIN cyclelock.lease l ON l.service_id = h.service_id AND l.name = h.name
            WHERE h.service_id = $1 AND h.id > $2 AND h.is_end
              AND (h.event <> 'released' OR h.reason IN ('stalled', 'lease-lost'))
            ORDER BY h.id
            LIMIT $3) e ON true
        ORDER BY e.id
        """;

    public const string LatestHistoryId = "SELECT COALESCE(max(id), 0) FROM cyclelock.history WHERE service_id = $1";
}
