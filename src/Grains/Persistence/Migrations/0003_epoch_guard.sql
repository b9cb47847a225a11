-- The epoch guard (DESIGN §8): a worker calls it inside its own transaction just before a protected write.
-- It succeeds only if (epoch, holder) is current, the lock is held and the lease has not run out by
-- clock_timestamp() (not now(): that is the transaction's start). It locks the row FOR KEY SHARE, which
-- makes a grant or a force-release (both FOR UPDATE) wait until the worker's transaction ends, and never
-- blocks renewals or releases (plain UPDATEs of non-key columns). A rejection raises SQLSTATE CL001 with
-- the reason, so the protected write in the same transaction cannot commit.
-- SECURITY DEFINER with a fixed search_path; EXECUTE is revoked from PUBLIC: grant it to worker roles only
--   GRANT USAGE ON SCHEMA cyclelock TO worker;
--   GRANT EXECUTE ON FUNCTION cyclelock.guard(text, text, bigint, uuid) TO worker;
-- and keep idle_in_transaction_session_timeout ≤ the TTL for those roles.
CREATE OR REPLACE FUNCTION cyclelock.guard(p_service text, p_name text, p_epoch bigint, p_holder uuid)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r record;
BEGIN
    SELECT l.state, l.epoch, l.holder_id, l.expires_at INTO r
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
    IF r.holder_id IS DISTINCT FROM p_holder THEN
        RAISE EXCEPTION USING ERRCODE = 'CL001', MESSAGE = format('epoch guard: lock %L epoch %s is held by another holder', p_name, p_epoch), HINT = 'other-holder';
    END IF;
    IF r.expires_at <= clock_timestamp() THEN
        RAISE EXCEPTION USING ERRCODE = 'CL001', MESSAGE = format('epoch guard: lock %L epoch %s expired at %s', p_name, p_epoch, r.expires_at), HINT = 'expired';
    END IF;
    RETURN r.epoch;
END
$$;

REVOKE EXECUTE ON FUNCTION cyclelock.guard(text, text, bigint, uuid) FROM PUBLIC;
