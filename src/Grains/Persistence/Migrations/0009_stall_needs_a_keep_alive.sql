-- CycleLock schema 9: a grant its holder never kept alive is released as stalled (history and the event feed say so,
-- so a scheduler still requeues its job) but is not counted as a stall (issue 15): three grants that never sent a
-- keep-alive made a predictable name dead until an operator reset it. The grain passes p_max_stalls = -1 for such a
-- grant; a stall after at least one keep-alive counts as before (and makes the lock dead at p_max_stalls).
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
           stalls = CASE p_reason WHEN 'completed' THEN 0 WHEN 'stalled' THEN stalls + CASE WHEN p_max_stalls < 0 THEN 0 ELSE 1 END ELSE stalls END,
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
