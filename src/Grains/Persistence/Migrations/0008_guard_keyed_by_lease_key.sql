-- CycleLock schema 8: the epoch guard authenticates with what only the holder knows (issue 15).
-- The guard of schema 3 took (epoch, holder id), both readable by any gateway client (InspectAsync, the lease
-- view): a worker role could take the guard on another worker's lease and hold its row FOR KEY SHARE, keeping
-- every grant of that lock busy. Now the caller passes the SHA-256 of its lease key (the SDK's EpochGuard does;
-- the key is a secret the SDK generates per acquire and never shows), compared with the lease row's key_hash.
-- The old signature is dropped, not kept beside it: keeping it would keep the hole open.
-- SECURITY DEFINER functions resolve names in pg_catalog and cyclelock only, with pg_temp last, so a caller's
-- temporary objects can never shadow what the function uses.
DROP FUNCTION IF EXISTS cyclelock.guard(text, text, bigint, uuid);

CREATE OR REPLACE FUNCTION cyclelock.guard(p_service text, p_name text, p_epoch bigint, p_key_hash bytea)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cyclelock, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    SELECT l.state, l.epoch, l.key_hash, l.expires_at INTO r
      FROM cyclelock.lease l
     WHERE l.service_id = p_service AND l.name = p_name
       FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'CL001', MESSAGE = format('epoch guard: lock %L is unknown', p_name), HINT = 'unknown';
    END IF;
    IF r.epoch <> p_epoch THEN
        RAISE EXCEPTION USING ERRCODE = 'CL001', MESSAGE = format('epoch guard: lock %L is at epoch %s, not %s', p_name, r.epoch, p_epoch), HINT = 'stale-epoch';
    END IF;
    IF r.state <> 'held' THEN
        RAISE EXCEPTION USING ERRCODE = 'CL001', MESSAGE = format('epoch guard: lock %L epoch %s is not held (%s)', p_name, p_epoch, r.state), HINT = 'not-held';
    END IF;
    IF r.key_hash IS DISTINCT FROM p_key_hash THEN
        RAISE EXCEPTION USING ERRCODE = 'CL001', MESSAGE = format('epoch guard: lock %L epoch %s is held by another holder', p_name, p_epoch), HINT = 'other-holder';
    END IF;
    IF r.expires_at <= clock_timestamp() THEN
        RAISE EXCEPTION USING ERRCODE = 'CL001', MESSAGE = format('epoch guard: lock %L epoch %s expired at %s', p_name, p_epoch, r.expires_at), HINT = 'expired';
    END IF;
    RETURN r.epoch;
END
$$;

REVOKE EXECUTE ON FUNCTION cyclelock.guard(text, text, bigint, bytea) FROM PUBLIC;
