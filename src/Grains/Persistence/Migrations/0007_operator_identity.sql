-- CycleLock schema 7: history records the authenticated operator of a force-release or reset (issue 15), next to
-- the self-declared by_whom. The silo's access filter authenticates the caller's credential; the name it
-- authenticated goes in as p_operator ('anonymous' on a silo with no credentials configured).
-- The older overloads stay for silos of the previous release during a rolling upgrade (they record no operator).
ALTER TABLE cyclelock.history ADD COLUMN IF NOT EXISTS operator text;

CREATE OR REPLACE FUNCTION cyclelock.force_release(
    p_service text, p_name text, p_expected_epoch bigint, p_reason text, p_by text, p_skip_delay boolean,
    p_self_activation text, p_promise_left interval, p_margin interval, p_lock_timeout_ms integer, p_operator text)
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
    INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, reason, activation, by_whom, operator, skip_delay, at)
    VALUES (p_service, p_name, old.epoch, 'force-released', true, old.holder_id, old.holder_label, p_reason,
            old.activation, p_by, p_operator, p_skip_delay, v_now)
    ON CONFLICT (service_id, name, epoch) WHERE is_end DO NOTHING;
    INSERT INTO cyclelock.spent_holder (service_id, name, holder_id) VALUES (p_service, p_name, old.holder_id)
    ON CONFLICT DO NOTHING;
    RETURN cyclelock.result_of('force-released', r, p_reason);
END
$$;

CREATE OR REPLACE FUNCTION cyclelock.reset(p_service text, p_name text, p_by text, p_operator text)
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
    INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, by_whom, operator)
    VALUES (p_service, p_name, r.epoch, 'reset', false, p_by, p_operator);
    RETURN cyclelock.result_of('reset', r, NULL);
END
$$;
