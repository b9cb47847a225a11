-- CycleLock schema 6: an abandon of a name no lease row exists for leaves no row behind.
-- The abandon still inserts the row first when it is missing: the unique index makes it wait for an acquire
-- of the same name that is inserting the row right now, so an abandon that overtakes its acquire still sees
-- (and releases) that grant, and a later acquire still finds the holder id spent. But when this abandon
-- inserted the row itself, no acquire has ever granted that name, and the row is deleted again before the
-- commit: any name a client abandons used to leave a permanent free row (free rows are pruned now too,
-- LeaseSql.PruneLeases, once unused for the history retention).
CREATE OR REPLACE FUNCTION cyclelock.abandon(p_service text, p_name text, p_holder uuid, p_key_hash bytea)
RETURNS cyclelock.op_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    r         cyclelock.lease;
    v_now     timestamptz;
    v_created boolean;
BEGIN
    INSERT INTO cyclelock.lease (service_id, name) VALUES (p_service, p_name) ON CONFLICT DO NOTHING;
    v_created := FOUND;
    PERFORM 1 FROM cyclelock.lease WHERE service_id = p_service AND name = p_name FOR NO KEY UPDATE;
    INSERT INTO cyclelock.spent_holder (service_id, name, holder_id) VALUES (p_service, p_name, p_holder)
    ON CONFLICT DO NOTHING;
    IF v_created THEN
        -- No acquire of this name ever committed or was in flight: nothing to release, and no row to keep.
        SELECT * INTO r FROM cyclelock.lease WHERE service_id = p_service AND name = p_name;
        DELETE FROM cyclelock.lease WHERE service_id = p_service AND name = p_name;
        RETURN cyclelock.result_of('nothing', r, NULL);
    END IF;
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
