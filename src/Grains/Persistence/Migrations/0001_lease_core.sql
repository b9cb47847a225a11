-- CycleLock schema 1: the lease row, spent holder ids, history, the epoch sequence and the lease
-- operations (DESIGN §2-§3). Applied once per database under an advisory lock by MigrationRunner;
-- every object is created idempotently so a re-run after a partial failure is safe.

CREATE SCHEMA IF NOT EXISTS cyclelock;

-- Epochs are drawn after the row lock (grant and force-release lock the row FOR UPDATE first).
-- CACHE 1 so that epochs drawn by different sessions are increasing in draw order.
CREATE SEQUENCE IF NOT EXISTS cyclelock.epoch_seq AS bigint START 1 CACHE 1;

CREATE TABLE IF NOT EXISTS cyclelock.lease (
    service_id          text        NOT NULL,
    name                text        NOT NULL,
    state               text        NOT NULL DEFAULT 'free',
    epoch               bigint      NOT NULL DEFAULT 0,
    holder_id           uuid,
    holder_label        text,
    key_hash            bytea,
    activation          text,
    prev_activation     text,
    acquired_at         timestamptz,
    renewed_at          timestamptz,
    expires_at          timestamptz,
    fence_until         timestamptz NOT NULL DEFAULT '-infinity',
    ttl                 interval,
    attempts            integer     NOT NULL DEFAULT 0,
    stalls              integer     NOT NULL DEFAULT 0,
    last_release_reason text,
    CONSTRAINT lease_pk PRIMARY KEY (service_id, name),
    CONSTRAINT lease_state_ck CHECK (state IN ('free', 'held', 'dead')),
    CONSTRAINT lease_name_ck CHECK (octet_length(name) BETWEEN 1 AND 256),
    CONSTRAINT lease_held_ck CHECK (state <> 'held' OR (holder_id IS NOT NULL AND key_hash IS NOT NULL AND expires_at IS NOT NULL AND ttl IS NOT NULL AND epoch > 0))
);

-- Holder ids whose lease ended (release, stall, loss, expiry, force-release) or that were abandoned.
-- Acquire refuses them, so a late or retried acquire can never be granted a second time.
CREATE TABLE IF NOT EXISTS cyclelock.spent_holder (
    service_id text        NOT NULL,
    name       text        NOT NULL,
    holder_id  uuid        NOT NULL,
    spent_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT spent_holder_pk PRIMARY KEY (service_id, name, holder_id)
);
CREATE INDEX IF NOT EXISTS spent_holder_spent_at ON cyclelock.spent_holder (spent_at);

-- Append-only. End events (released, lost, expired, force-released) are unique per (lock, epoch)
-- and every end-event insert is ON CONFLICT DO NOTHING.
CREATE TABLE IF NOT EXISTS cyclelock.history (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id      text        NOT NULL,
    name            text        NOT NULL,
    epoch           bigint      NOT NULL,
    event           text        NOT NULL,
    is_end          boolean     NOT NULL,
    holder_id       uuid,
    holder_label    text,
    reason          text,
    activation      text,
    prev_activation text,
    by_whom         text,
    skip_delay      boolean     NOT NULL DEFAULT false,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT history_event_ck CHECK (event IN ('granted', 'adopted', 'released', 'lost', 'expired', 'force-released', 'reset')),
    CONSTRAINT history_end_ck CHECK (is_end = (event IN ('released', 'lost', 'expired', 'force-released')))
);
CREATE UNIQUE INDEX IF NOT EXISTS history_end_per_epoch ON cyclelock.history (service_id, name, epoch) WHERE is_end;
CREATE INDEX IF NOT EXISTS history_by_lock ON cyclelock.history (service_id, name, id DESC);
CREATE INDEX IF NOT EXISTS history_at ON cyclelock.history (at);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                   WHERE n.nspname = 'cyclelock' AND t.typname = 'op_result') THEN
        CREATE TYPE cyclelock.op_result AS (
            outcome         text,
            epoch           bigint,
            holder_id       uuid,
            holder_label    text,
            activation      text,
            prev_activation text,
            remaining       interval,
            fence_until     timestamptz,
            db_now          timestamptz,
            ttl             interval,
            attempts        integer,
            stalls          integer,
            reason          text,
            sync_commit     text
        );
    END IF;
END
$$;

-- Builds a result from a lease row; remaining = expires_at - clock_timestamp() (never negative).
CREATE OR REPLACE FUNCTION cyclelock.result_of(p_outcome text, r cyclelock.lease, p_reason text)
RETURNS cyclelock.op_result
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
    SELECT ROW(p_outcome, COALESCE(r.epoch, 0), r.holder_id, r.holder_label, r.activation, r.prev_activation,
               GREATEST(COALESCE(r.expires_at - clock_timestamp(), interval '0'), interval '0'),
               r.fence_until, clock_timestamp(), r.ttl, COALESCE(r.attempts, 0), COALESCE(r.stalls, 0),
               p_reason, current_setting('synchronous_commit'))::cyclelock.op_result
$$;

-- The reason recorded for (lock, epoch, holder) if that epoch has ended, else NULL.
CREATE OR REPLACE FUNCTION cyclelock.end_reason(p_service text, p_name text, p_epoch bigint, p_holder uuid)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, cyclelock
AS $$
    SELECT CASE h.event WHEN 'released' THEN h.reason WHEN 'lost' THEN 'lease-lost' ELSE h.event END
    FROM cyclelock.history h
    WHERE h.service_id = p_service AND h.name = p_name AND h.epoch = p_epoch AND h.is_end
      AND (p_holder IS NULL OR h.holder_id = p_holder)
$$;

-- acquire: grant when free or expired and past fence_until; idempotent for the same holder and key.
-- The row lock is taken under p_lock_timeout_ms (55P03 is mapped to Busy by the caller).
CREATE OR REPLACE FUNCTION cyclelock.acquire(
    p_service text, p_name text, p_holder uuid, p_label text, p_key_hash bytea, p_ttl interval,
    p_activation text, p_lock_timeout_ms integer)
RETURNS cyclelock.op_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r      cyclelock.lease;
    v_now  timestamptz;
    v_prev text;
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout_ms::text || 'ms', true);
    SELECT * INTO r FROM cyclelock.lease WHERE service_id = p_service AND name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO cyclelock.lease (service_id, name) VALUES (p_service, p_name) ON CONFLICT DO NOTHING;
        SELECT * INTO r FROM cyclelock.lease WHERE service_id = p_service AND name = p_name FOR UPDATE;
    END IF;
    v_now := clock_timestamp();

    -- The same holder asking again (a lost reply): the same lease, served by this activation.
    IF r.state = 'held' AND r.holder_id = p_holder AND r.key_hash = p_key_hash AND r.expires_at > v_now THEN
        IF r.ttl <> p_ttl THEN
            RETURN cyclelock.result_of('ttl-mismatch', r, NULL);
        END IF;
        v_prev := r.activation;
        UPDATE cyclelock.lease
           SET prev_activation = activation,
               activation = p_activation,
               fence_until = CASE WHEN activation IS DISTINCT FROM p_activation
                                  THEN GREATEST(fence_until, expires_at) ELSE fence_until END
         WHERE service_id = p_service AND name = p_name
        RETURNING * INTO r;
        IF v_prev IS DISTINCT FROM p_activation THEN
            INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, activation, prev_activation)
            VALUES (p_service, p_name, r.epoch, 'adopted', false, r.holder_id, r.holder_label, p_activation, v_prev);
        END IF;
        RETURN cyclelock.result_of('reacquired', r, NULL);
    END IF;

    -- An expired lease ends here, by expiry, at its expires_at (also when its own holder asks again).
    IF r.state = 'held' AND r.expires_at <= v_now THEN
        INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, activation, at)
        VALUES (p_service, p_name, r.epoch, 'expired', true, r.holder_id, r.holder_label, r.activation, r.expires_at)
        ON CONFLICT (service_id, name, epoch) WHERE is_end DO NOTHING;
        INSERT INTO cyclelock.spent_holder (service_id, name, holder_id) VALUES (p_service, p_name, r.holder_id)
        ON CONFLICT DO NOTHING;
        UPDATE cyclelock.lease
           SET state = 'free', key_hash = NULL, activation = NULL, last_release_reason = 'expired'
         WHERE service_id = p_service AND name = p_name
        RETURNING * INTO r;
    END IF;

    IF EXISTS (SELECT 1 FROM cyclelock.spent_holder
               WHERE service_id = p_service AND name = p_name AND holder_id = p_holder) THEN
        RETURN cyclelock.result_of('spent', r, NULL);
    END IF;
    IF r.state = 'dead' THEN
        RETURN cyclelock.result_of('dead', r, r.last_release_reason);
    END IF;
    IF r.state = 'held' THEN
        -- busy: remaining is the time until a grant could happen
        r.expires_at := GREATEST(r.expires_at, r.fence_until);
        RETURN cyclelock.result_of('busy-held', r, NULL);
    END IF;
    IF v_now < r.fence_until THEN
        r.expires_at := r.fence_until;
        RETURN cyclelock.result_of('busy-fenced', r, NULL);
    END IF;

    UPDATE cyclelock.lease
       SET state = 'held', epoch = nextval('cyclelock.epoch_seq'), holder_id = p_holder, holder_label = p_label,
           key_hash = p_key_hash, activation = p_activation, prev_activation = NULL,
           acquired_at = v_now, renewed_at = v_now, expires_at = v_now + p_ttl, ttl = p_ttl
     WHERE service_id = p_service AND name = p_name
    RETURNING * INTO r;
    INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, activation, at)
    VALUES (p_service, p_name, r.epoch, 'granted', false, p_holder, p_label, p_activation, v_now);
    RETURN cyclelock.result_of('granted', r, NULL);
END
$$;

-- The row a failed conditional operation reports: 'moved' when the same holder and epoch are served
-- by another activation, 'ended' (with the recorded reason) when that epoch ended for this holder,
-- else 'lost'. The current holder, epoch and activation are returned in every case.
CREATE OR REPLACE FUNCTION cyclelock.mismatch(
    p_service text, p_name text, p_holder uuid, p_key_hash bytea, p_epoch bigint, p_activation text)
RETURNS cyclelock.op_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r        cyclelock.lease;
    v_reason text;
BEGIN
    SELECT * INTO r FROM cyclelock.lease WHERE service_id = p_service AND name = p_name;
    IF FOUND AND r.state = 'held' AND r.holder_id = p_holder AND r.epoch = p_epoch
       AND (p_key_hash IS NULL OR r.key_hash = p_key_hash)
       AND r.activation IS DISTINCT FROM p_activation AND r.expires_at > clock_timestamp() THEN
        RETURN cyclelock.result_of('moved', r, NULL);
    END IF;
    v_reason := cyclelock.end_reason(p_service, p_name, p_epoch, p_holder);
    IF v_reason IS NOT NULL THEN
        RETURN cyclelock.result_of('ended', r, v_reason);
    END IF;
    RETURN cyclelock.result_of('lost', r, NULL);
END
$$;

-- adopt: a new activation takes over serving a held, unexpired lease of this holder and key.
-- prev_activation = activation in the SET list is the old value; fence_until covers every promise
-- the previous activation may have made (they end before the expires_at it last renewed to).
CREATE OR REPLACE FUNCTION cyclelock.adopt(
    p_service text, p_name text, p_holder uuid, p_key_hash bytea, p_epoch bigint, p_activation text)
RETURNS cyclelock.op_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r cyclelock.lease;
BEGIN
    UPDATE cyclelock.lease
       SET prev_activation = activation,
           activation = p_activation,
           fence_until = CASE WHEN activation IS DISTINCT FROM p_activation
                              THEN GREATEST(fence_until, expires_at) ELSE fence_until END
     WHERE service_id = p_service AND name = p_name AND state = 'held' AND holder_id = p_holder
       AND key_hash = p_key_hash AND epoch = p_epoch AND expires_at > clock_timestamp()
    RETURNING * INTO r;
    IF NOT FOUND THEN
        RETURN cyclelock.mismatch(p_service, p_name, p_holder, p_key_hash, p_epoch, p_activation);
    END IF;
    IF r.prev_activation IS DISTINCT FROM p_activation THEN
        INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, activation, prev_activation)
        VALUES (p_service, p_name, r.epoch, 'adopted', false, r.holder_id, r.holder_label, p_activation, r.prev_activation);
    END IF;
    RETURN cyclelock.result_of('adopted', r, NULL);
END
$$;

-- renew: conditional on holder, epoch, activation and TTL; never inserts, steals or revives.
-- A plain UPDATE of non-key columns: it never waits for an epoch guard (FOR KEY SHARE).
CREATE OR REPLACE FUNCTION cyclelock.renew(
    p_service text, p_name text, p_holder uuid, p_epoch bigint, p_activation text, p_ttl interval)
RETURNS cyclelock.op_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r cyclelock.lease;
BEGIN
    UPDATE cyclelock.lease
       SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + p_ttl
     WHERE service_id = p_service AND name = p_name AND state = 'held' AND holder_id = p_holder
       AND epoch = p_epoch AND activation = p_activation AND ttl = p_ttl AND expires_at > clock_timestamp()
    RETURNING * INTO r;
    IF NOT FOUND THEN
        RETURN cyclelock.mismatch(p_service, p_name, p_holder, NULL, p_epoch, p_activation);
    END IF;
    RETURN cyclelock.result_of('renewed', r, NULL);
END
$$;

-- release: conditional on holder, key, epoch and activation. A holder's own release lowers the fence
-- to now (every promise of the epoch was made to that holder); the grain's releases (stall, loss)
-- keep it. A retried release finds the epoch's end event and reports 'already-released'.
CREATE OR REPLACE FUNCTION cyclelock.release(
    p_service text, p_name text, p_holder uuid, p_key_hash bytea, p_epoch bigint, p_activation text,
    p_reason text, p_by_holder boolean, p_max_stalls integer)
RETURNS cyclelock.op_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r        cyclelock.lease;
    v_reason text;
    v_now    timestamptz := clock_timestamp();
BEGIN
    UPDATE cyclelock.lease
       SET state = CASE WHEN p_reason = 'stalled' AND p_max_stalls > 0 AND stalls + 1 >= p_max_stalls
                        THEN 'dead' ELSE 'free' END,
           attempts = CASE p_reason WHEN 'completed' THEN 0 WHEN 'failed' THEN attempts + 1 ELSE attempts END,
           stalls = CASE p_reason WHEN 'completed' THEN 0 WHEN 'stalled' THEN stalls + 1 ELSE stalls END,
           last_release_reason = p_reason,
           key_hash = NULL,
           activation = NULL,
           expires_at = LEAST(expires_at, v_now),
           fence_until = CASE WHEN p_by_holder THEN LEAST(fence_until, v_now) ELSE GREATEST(fence_until, v_now) END
     WHERE service_id = p_service AND name = p_name AND state = 'held' AND holder_id = p_holder
       AND key_hash = p_key_hash AND epoch = p_epoch AND activation = p_activation
    RETURNING * INTO r;
    IF NOT FOUND THEN
        v_reason := cyclelock.end_reason(p_service, p_name, p_epoch, p_holder);
        IF v_reason IS NOT NULL THEN
            SELECT * INTO r FROM cyclelock.lease WHERE service_id = p_service AND name = p_name;
            RETURN cyclelock.result_of('already-released', r, v_reason);
        END IF;
        RETURN cyclelock.mismatch(p_service, p_name, p_holder, p_key_hash, p_epoch, p_activation);
    END IF;
    INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, reason, activation, at)
    VALUES (p_service, p_name, r.epoch,
            CASE WHEN p_reason = 'lease-lost' AND NOT p_by_holder THEN 'lost' ELSE 'released' END,
            true, p_holder, r.holder_label, p_reason, p_activation, v_now)
    ON CONFLICT (service_id, name, epoch) WHERE is_end DO NOTHING;
    INSERT INTO cyclelock.spent_holder (service_id, name, holder_id) VALUES (p_service, p_name, p_holder)
    ON CONFLICT DO NOTHING;
    RETURN cyclelock.result_of('released', r, p_reason);
END
$$;

-- force_release: conditional on the expected epoch; locks the row FOR UPDATE (waits for epoch guards),
-- bumps the epoch and fences the old holder's promises: through the serving activation until
-- now + its promise left + margin, otherwise until the old expires_at; skip_delay adds no fence (an
-- adoption's fence, which covers a displaced activation's promises, stays).
CREATE OR REPLACE FUNCTION cyclelock.force_release(
    p_service text, p_name text, p_expected_epoch bigint, p_reason text, p_by text, p_skip_delay boolean,
    p_self_activation text, p_promise_left interval, p_margin interval, p_lock_timeout_ms integer)
RETURNS cyclelock.op_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r     cyclelock.lease;
    old   cyclelock.lease;
    v_now timestamptz;
BEGIN
    PERFORM set_config('lock_timeout', p_lock_timeout_ms::text || 'ms', true);
    SELECT * INTO old FROM cyclelock.lease WHERE service_id = p_service AND name = p_name FOR UPDATE;
    IF NOT FOUND OR old.epoch <> p_expected_epoch THEN
        IF EXISTS (SELECT 1 FROM cyclelock.history
                   WHERE service_id = p_service AND name = p_name AND epoch = p_expected_epoch
                     AND event = 'force-released') THEN
            RETURN cyclelock.result_of('already-released', old, 'force-released');
        END IF;
        RETURN cyclelock.result_of('wrong-epoch', old, NULL);
    END IF;
    IF old.state <> 'held' THEN
        RETURN cyclelock.result_of('not-held', old, NULL);
    END IF;
    v_now := clock_timestamp();
    UPDATE cyclelock.lease
       SET epoch = nextval('cyclelock.epoch_seq'), state = 'free', key_hash = NULL, activation = NULL,
           last_release_reason = 'force-released', expires_at = LEAST(expires_at, v_now),
           fence_until = CASE WHEN p_skip_delay THEN fence_until
                              ELSE GREATEST(fence_until,
                                            CASE WHEN old.activation IS NOT DISTINCT FROM p_self_activation
                                                 THEN v_now + p_promise_left + p_margin
                                                 ELSE old.expires_at END) END
     WHERE service_id = p_service AND name = p_name
    RETURNING * INTO r;
    INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, reason, activation, by_whom, skip_delay, at)
    VALUES (p_service, p_name, old.epoch, 'force-released', true, old.holder_id, old.holder_label, p_reason,
            old.activation, p_by, p_skip_delay, v_now)
    ON CONFLICT (service_id, name, epoch) WHERE is_end DO NOTHING;
    INSERT INTO cyclelock.spent_holder (service_id, name, holder_id) VALUES (p_service, p_name, old.holder_id)
    ON CONFLICT DO NOTHING;
    RETURN cyclelock.result_of('force-released', r, p_reason);
END
$$;

-- abandon: the SDK gave up on an acquire. Locks the row first (so an acquire in flight either
-- commits its grant before this runs, and the grant is released here, or sees the id spent),
-- marks the id spent, then releases a grant to it if there is one.
CREATE OR REPLACE FUNCTION cyclelock.abandon(p_service text, p_name text, p_holder uuid, p_key_hash bytea)
RETURNS cyclelock.op_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r     cyclelock.lease;
    v_now timestamptz;
BEGIN
    INSERT INTO cyclelock.lease (service_id, name) VALUES (p_service, p_name) ON CONFLICT DO NOTHING;
    PERFORM 1 FROM cyclelock.lease WHERE service_id = p_service AND name = p_name FOR NO KEY UPDATE;
    INSERT INTO cyclelock.spent_holder (service_id, name, holder_id) VALUES (p_service, p_name, p_holder)
    ON CONFLICT DO NOTHING;
    v_now := clock_timestamp();
    UPDATE cyclelock.lease
       SET state = 'free', key_hash = NULL, activation = NULL, last_release_reason = 'abandoned',
           expires_at = LEAST(expires_at, v_now), fence_until = LEAST(fence_until, v_now)
     WHERE service_id = p_service AND name = p_name AND state = 'held' AND holder_id = p_holder
       AND key_hash = p_key_hash
    RETURNING * INTO r;
    IF NOT FOUND THEN
        SELECT * INTO r FROM cyclelock.lease WHERE service_id = p_service AND name = p_name;
        RETURN cyclelock.result_of('nothing', r, NULL);
    END IF;
    INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, reason, at)
    VALUES (p_service, p_name, r.epoch, 'released', true, p_holder, r.holder_label, 'abandoned', v_now)
    ON CONFLICT (service_id, name, epoch) WHERE is_end DO NOTHING;
    RETURN cyclelock.result_of('abandoned', r, 'abandoned');
END
$$;

-- reset: a dead lock (too many stalls) returns to service with its counters cleared.
CREATE OR REPLACE FUNCTION cyclelock.reset(p_service text, p_name text, p_by text)
RETURNS cyclelock.op_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r cyclelock.lease;
BEGIN
    UPDATE cyclelock.lease SET state = 'free', attempts = 0, stalls = 0
     WHERE service_id = p_service AND name = p_name AND state = 'dead'
    RETURNING * INTO r;
    IF NOT FOUND THEN
        SELECT * INTO r FROM cyclelock.lease WHERE service_id = p_service AND name = p_name;
        RETURN cyclelock.result_of('not-dead', r, NULL);
    END IF;
    INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, by_whom)
    VALUES (p_service, p_name, r.epoch, 'reset', false, p_by);
    RETURN cyclelock.result_of('reset', r, NULL);
END
$$;
