-- CycleLock schema 10: grants and releases coalesced (issue 16). One statement applies the acquires, releases and
-- abandons a silo gathered in one flush, in one transaction and so one durable commit. Each input is answered by the
-- very function the single-row path calls (cyclelock.acquire, cyclelock.release, cyclelock.abandon), so a batch means
-- what the same inputs sent one by one in name order would mean: the same outcomes, epochs drawn after the row lock,
-- the history rows written in the same transaction.
--
-- The batch never waits for a row lock another transaction holds. Each row is locked first, in name order, with SKIP
-- LOCKED: an acquire's FOR UPDATE (it must wait for an epoch guard's FOR KEY SHARE, DESIGN §2 and §8, so a guard is
-- the typical skip), a release's or abandon's FOR NO KEY UPDATE (they do not wait for guards on their own either). A
-- row it could not lock is answered 'skipped' and the caller sends that input down the single-row path, which waits
-- under its own lock timeout and answers busy as before — so one guarded row never stalls the rest. A release or
-- abandon of a name without a row is skipped too (rare; the single-row path answers it exactly).
--
-- The only wait left is the insert of a row an acquire needs and nobody created yet: it waits for another
-- transaction inserting the same name right now (as the single-row acquire does), under p_lock_timeout_ms. The
-- inserts are made first, in name order, before any other row is locked, so two batches cannot wait on each other in
-- a circle; a lock timeout there fails the statement (55P03) and the caller falls back to one statement per input.
CREATE OR REPLACE FUNCTION cyclelock.change_many(
    p_service text, p_kinds text[], p_names text[], p_holders uuid[], p_labels text[], p_key_hashes bytea[],
    p_ttls interval[], p_epochs bigint[], p_activations text[], p_reasons text[], p_by_holder boolean[],
    p_max_stalls integer[], p_lock_timeout_ms integer)
RETURNS TABLE (out_ord bigint, out_result cyclelock.op_result)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    i record;
BEGIN
    IF cardinality(p_names) <> (SELECT count(DISTINCT n) FROM unnest(p_names) n) THEN
        RAISE EXCEPTION USING ERRCODE = 'CL002', MESSAGE = 'a coalesced batch names a lock twice (rule: unique names per statement)';
    END IF;
    PERFORM set_config('lock_timeout', p_lock_timeout_ms::text || 'ms', true);

    INSERT INTO cyclelock.lease (service_id, name)
    SELECT p_service, n.name
      FROM unnest(p_kinds, p_names) AS n(kind, name)
     WHERE n.kind = 'acquire'
       AND NOT EXISTS (SELECT 1 FROM cyclelock.lease l WHERE l.service_id = p_service AND l.name = n.name)
     ORDER BY n.name
    ON CONFLICT DO NOTHING;

    FOR i IN
        SELECT t.kind, t.name, t.holder, t.label, t.key_hash, t.ttl, t.epoch, t.activation, t.reason, t.by_holder, t.max_stalls, t.ord
          FROM unnest(p_kinds, p_names, p_holders, p_labels, p_key_hashes, p_ttls, p_epochs, p_activations, p_reasons, p_by_holder, p_max_stalls)
               WITH ORDINALITY AS t(kind, name, holder, label, key_hash, ttl, epoch, activation, reason, by_holder, max_stalls, ord)
         ORDER BY t.name
    LOOP
        out_ord := i.ord;
        IF i.kind = 'acquire' THEN
            PERFORM 1 FROM cyclelock.lease WHERE service_id = p_service AND name = i.name FOR UPDATE SKIP LOCKED;
        ELSE
            PERFORM 1 FROM cyclelock.lease WHERE service_id = p_service AND name = i.name FOR NO KEY UPDATE SKIP LOCKED;
        END IF;
        IF NOT FOUND THEN
            out_result := ROW('skipped', 0, NULL, NULL, NULL, NULL, interval '0', NULL, clock_timestamp(), NULL, 0, 0, NULL,
                              current_setting('synchronous_commit'))::cyclelock.op_result;
        ELSIF i.kind = 'acquire' THEN
            out_result := cyclelock.acquire(p_service, i.name, i.holder, i.label, i.key_hash, i.ttl, i.activation, p_lock_timeout_ms);
        ELSIF i.kind = 'release' THEN
            out_result := cyclelock.release(p_service, i.name, i.holder, i.key_hash, i.epoch, i.activation, i.reason, i.by_holder, i.max_stalls);
        ELSIF i.kind = 'abandon' THEN
            out_result := cyclelock.abandon(p_service, i.name, i.holder, i.key_hash);
        ELSE
            RAISE EXCEPTION USING ERRCODE = 'CL003', MESSAGE = format('unknown change kind %L (rule: acquire, release or abandon)', i.kind);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
