-- Coalesced renewal and adoption (DESIGN §11): one statement renews (or adopts) the leases a silo
-- gathered in one flush. Inputs are parallel arrays with unique names (the caller de-duplicates). The
-- rows are locked first, in name order, FOR NO KEY UPDATE: two batches touching the same rows (two
-- silos, or a silo's renew and adopt batches) take their locks in the same order and cannot deadlock,
-- and NO KEY UPDATE does not conflict with an epoch guard's FOR KEY SHARE, so a fenced write in flight
-- on one row never delays the batch (FOR UPDATE would wait for it). Each input gets exactly one
-- answer, in input order (ord), through an outer join: renewed / adopted, or what the single-row
-- operation's mismatch path says (moved, ended with the recorded reason, lost). The conditions are
-- those of cyclelock.renew and cyclelock.adopt, so a batch means what the same rows renewed one by
-- one would mean.

-- The rows of one batch, locked in name order FOR NO KEY UPDATE (see above); a batch naming a lock twice
-- is refused (SQLSTATE CL002) before anything is locked.
CREATE OR REPLACE FUNCTION cyclelock.lock_batch(p_service text, p_names text[])
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
BEGIN
    IF cardinality(p_names) <> (SELECT count(DISTINCT n) FROM unnest(p_names) n) THEN
        RAISE EXCEPTION USING ERRCODE = 'CL002', MESSAGE = 'a coalesced batch names a lock twice (rule: unique names per statement)';
    END IF;
    PERFORM 1 FROM cyclelock.lease l
     WHERE l.service_id = p_service AND l.name = ANY (p_names)
     ORDER BY l.name
       FOR NO KEY UPDATE;
END
$$;

CREATE OR REPLACE FUNCTION cyclelock.renew_many(
    p_service text, p_names text[], p_holders uuid[], p_epochs bigint[], p_activations text[], p_ttls interval[])
RETURNS TABLE (out_ord bigint, out_result cyclelock.op_result)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
BEGIN
    PERFORM cyclelock.lock_batch(p_service, p_names);
    RETURN QUERY
    WITH input AS (
        SELECT i.name, i.holder, i.epoch, i.activation, i.ttl, i.ord
          FROM unnest(p_names, p_holders, p_epochs, p_activations, p_ttls)
               WITH ORDINALITY AS i(name, holder, epoch, activation, ttl, ord)
    ), renewed AS (
        UPDATE cyclelock.lease l
           SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + i.ttl
          FROM input i
         WHERE l.service_id = p_service AND l.name = i.name AND l.state = 'held' AND l.holder_id = i.holder
           AND l.epoch = i.epoch AND l.activation = i.activation AND l.ttl = i.ttl AND l.expires_at > clock_timestamp()
        RETURNING i.ord AS ord, l AS lease_row
    )
    SELECT i.ord,
           CASE WHEN r.ord IS NOT NULL THEN cyclelock.result_of('renewed', r.lease_row, NULL)
                ELSE cyclelock.mismatch(p_service, i.name, i.holder, NULL, i.epoch, i.activation) END
      FROM input i
      LEFT JOIN renewed r ON r.ord = i.ord
     ORDER BY i.ord;
END
$$;

-- adopt_many: cyclelock.adopt for many rows; an 'adopted' history event for each row whose serving
-- activation changed (prev_activation in the RETURNING row is the activation before this statement).
CREATE OR REPLACE FUNCTION cyclelock.adopt_many(
    p_service text, p_names text[], p_holders uuid[], p_key_hashes bytea[], p_epochs bigint[], p_activations text[])
RETURNS TABLE (out_ord bigint, out_result cyclelock.op_result)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
BEGIN
    PERFORM cyclelock.lock_batch(p_service, p_names);
    RETURN QUERY
    WITH input AS (
        SELECT i.name, i.holder, i.key_hash, i.epoch, i.activation, i.ord
          FROM unnest(p_names, p_holders, p_key_hashes, p_epochs, p_activations)
               WITH ORDINALITY AS i(name, holder, key_hash, epoch, activation, ord)
    ), adopted AS (
        UPDATE cyclelock.lease l
           SET prev_activation = l.activation,
               activation = i.activation,
               fence_until = CASE WHEN l.activation IS DISTINCT FROM i.activation
                                  THEN GREATEST(l.fence_until, l.expires_at) ELSE l.fence_until END
          FROM input i
         WHERE l.service_id = p_service AND l.name = i.name AND l.state = 'held' AND l.holder_id = i.holder
           AND l.key_hash = i.key_hash AND l.epoch = i.epoch AND l.expires_at > clock_timestamp()
        RETURNING i.ord AS ord, l AS lease_row
    ), logged AS (
        INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, activation, prev_activation)
        SELECT p_service, (a.lease_row).name, (a.lease_row).epoch, 'adopted', false, (a.lease_row).holder_id, (a.lease_row).holder_label,
               (a.lease_row).activation, (a.lease_row).prev_activation
          FROM adopted a
         WHERE (a.lease_row).prev_activation IS DISTINCT FROM (a.lease_row).activation
    )
    SELECT i.ord,
           CASE WHEN a.ord IS NOT NULL THEN cyclelock.result_of('adopted', a.lease_row, NULL)
                ELSE cyclelock.mismatch(p_service, i.name, i.holder, i.key_hash, i.epoch, i.activation) END
      FROM input i
      LEFT JOIN adopted a ON a.ord = i.ord
     ORDER BY i.ord;
END
$$;
