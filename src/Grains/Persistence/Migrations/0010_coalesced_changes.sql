-- CycleLock schema 10: grants and releases coalesced (issue 16). One statement applies the acquires, releases and
-- abandons a silo gathered in one flush, in one transaction and so one durable commit, and answers each input what the
-- single-row function would: the batch means what the same inputs sent one by one would mean — the same outcomes and
-- counters, epochs drawn after the row lock, each history row written by the statement that made the change.
--
-- The two cases that make up nearly all traffic are applied set-based, a few statements for the whole batch: the grant
-- of a free, unfenced row to a holder id not spent (the grant branch of cyclelock.acquire), and the release of a lease
-- by the holder, key, epoch and activation that hold it (the release branch of cyclelock.release). Every other input
-- (a re-grant, busy, dead, spent, an expired lease, a mismatched release, an abandon) is answered by the single-row
-- function itself, called for that input inside the same transaction, in name order. The per-row functions cost
-- several times the set-based statements in server CPU, which is what bounds grants per second once commits are
-- shared.
--
-- The batch never waits for a row lock another transaction holds. Each row is locked first with SKIP LOCKED, the
-- acquires' rows in name order, then the releases' and abandons' rows in name order (without waits the order cannot
-- close a cycle): an acquire's FOR UPDATE (it must wait for an epoch guard's FOR KEY SHARE, DESIGN §2 and §8, so a guard is
-- the typical skip), a release's or abandon's FOR NO KEY UPDATE (they do not wait for guards on their own either). A
-- row it could not lock is answered 'skipped' and the caller sends that input down the single-row path, which waits
-- under its own lock timeout and answers busy as before — so one guarded row never stalls the rest. A release or
-- abandon of a name without a row is skipped too (rare; the single-row path answers it exactly).
--
-- The only wait left is the insert of a row an acquire needs and nobody created yet: it waits for another
-- transaction inserting the same name right now (as the single-row acquire does), under p_lock_timeout_ms. The
-- inserts are made first, in name order, before any other row is locked, so two batches cannot wait on each other in
-- a circle; a lock timeout there fails the statement (55P03), nothing is changed, and each caller sends its input down
-- the single-row path, which answers busy on its own lock timeout as before.
CREATE OR REPLACE FUNCTION cyclelock.change_many(
    p_service text, p_kinds text[], p_names text[], p_holders uuid[], p_labels text[], p_key_hashes bytea[],
    p_ttls interval[], p_epochs bigint[], p_activations text[], p_reasons text[], p_by_holder boolean[],
    p_max_stalls integer[], p_lock_timeout_ms integer)
RETURNS TABLE (out_ord bigint, out_result cyclelock.op_result)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
DECLARE
    n         integer := cardinality(p_names);
    v_results cyclelock.op_result[];
    v_locked  boolean[];
    v_ords    bigint[];
    v_answers cyclelock.op_result[];
    v_done    integer := 0;
    v_unique  bigint;
    v_bad     boolean;
    v_acquire boolean;
    v_release boolean;
    v_other   boolean;
    rec       record;
    k         integer;
BEGIN
    -- One pass over the input: its rules, and which kinds it has (a batch of one kind skips the other's statements).
    SELECT count(DISTINCT t.name), COALESCE(bool_or(t.kind IS NULL OR t.kind NOT IN ('acquire', 'release', 'abandon')), false),
           COALESCE(bool_or(t.kind = 'acquire'), false), COALESCE(bool_or(t.kind = 'release'), false), COALESCE(bool_or(t.kind <> 'acquire'), false)
      INTO v_unique, v_bad, v_acquire, v_release, v_other
      FROM unnest(p_kinds, p_names) AS t(kind, name);
    IF v_unique <> n THEN
        RAISE EXCEPTION USING ERRCODE = 'CL002', MESSAGE = 'a coalesced batch names a lock twice (rule: unique names per statement)';
    END IF;
    IF v_bad THEN
        RAISE EXCEPTION USING ERRCODE = 'CL003', MESSAGE = 'a coalesced batch has an unknown change kind (rule: acquire, release or abandon)';
    END IF;
    v_results := array_fill(NULL::cyclelock.op_result, ARRAY[n]);
    v_locked := array_fill(false, ARRAY[n]);

    IF v_acquire THEN
    PERFORM set_config('lock_timeout', p_lock_timeout_ms::text || 'ms', true);

    -- Rows an acquire needs and nobody created yet, in name order, before anything else is locked.
    INSERT INTO cyclelock.lease (service_id, name)
    SELECT p_service, t.name
      FROM unnest(p_kinds, p_names) AS t(kind, name)
     WHERE t.kind = 'acquire'
       AND NOT EXISTS (SELECT 1 FROM cyclelock.lease l WHERE l.service_id = p_service AND l.name = t.name)
     ORDER BY t.name
    ON CONFLICT DO NOTHING;

    -- Every acquire's row the batch can lock without waiting, in name order, FOR UPDATE (an epoch guard's FOR KEY
    -- SHARE makes it skip the row).
    FOR k IN
        SELECT t.ord
          FROM unnest(p_kinds, p_names) WITH ORDINALITY AS t(kind, name, ord)
          JOIN (SELECT l.name FROM cyclelock.lease l
                 WHERE l.service_id = p_service
                   AND l.name = ANY (ARRAY(SELECT x.name FROM unnest(p_kinds, p_names) AS x(kind, name) WHERE x.kind = 'acquire'))
                 ORDER BY l.name
                   FOR UPDATE SKIP LOCKED) g ON g.name = t.name
         WHERE t.kind = 'acquire'
    LOOP
        v_locked[k] := true;
    END LOOP;
    END IF;

    IF v_other THEN
    -- Every release's and abandon's row the batch can lock without waiting, in name order, FOR NO KEY UPDATE (as the
    -- single-row release, they do not wait for guards).
    FOR k IN
        SELECT t.ord
          FROM unnest(p_kinds, p_names) WITH ORDINALITY AS t(kind, name, ord)
          JOIN (SELECT l.name FROM cyclelock.lease l
                 WHERE l.service_id = p_service
                   AND l.name = ANY (ARRAY(SELECT x.name FROM unnest(p_kinds, p_names) AS x(kind, name) WHERE x.kind <> 'acquire'))
                 ORDER BY l.name
                   FOR NO KEY UPDATE SKIP LOCKED) e ON e.name = t.name
         WHERE t.kind <> 'acquire'
    LOOP
        v_locked[k] := true;
    END LOOP;
    END IF;

    IF v_acquire THEN
    -- Grants of free, unfenced rows to holders not spent: the grant branch of cyclelock.acquire, for all at once.
    WITH input AS (
        SELECT t.name, t.holder, t.label, t.key_hash, t.ttl, t.activation, t.ord, clock_timestamp() AS now
          FROM unnest(p_kinds, p_names, p_holders, p_labels, p_key_hashes, p_ttls, p_activations)
               WITH ORDINALITY AS t(kind, name, holder, label, key_hash, ttl, activation, ord)
         WHERE t.kind = 'acquire' AND v_locked[t.ord]
    ), grantable AS (
        SELECT i.* FROM input i
          JOIN cyclelock.lease l ON l.service_id = p_service AND l.name = i.name
         WHERE l.state = 'free' AND l.fence_until <= i.now
           AND NOT EXISTS (SELECT 1 FROM cyclelock.spent_holder s
                            WHERE s.service_id = p_service AND s.name = i.name AND s.holder_id = i.holder)
    ), granted AS (
        UPDATE cyclelock.lease l
           SET state = 'held', epoch = nextval('cyclelock.epoch_seq'), holder_id = g.holder, holder_label = g.label,
               key_hash = g.key_hash, activation = g.activation, prev_activation = NULL,
               acquired_at = g.now, renewed_at = g.now, expires_at = g.now + g.ttl, ttl = g.ttl
          FROM grantable g
         WHERE l.service_id = p_service AND l.name = g.name
        RETURNING g.ord, g.now, l AS lease_row
    ), logged AS (
        INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, activation, at)
        SELECT p_service, (g.lease_row).name, (g.lease_row).epoch, 'granted', false, (g.lease_row).holder_id,
               (g.lease_row).holder_label, (g.lease_row).activation, g.now
          FROM granted g
    )
    SELECT array_agg(g.ord), array_agg(cyclelock.result_of('granted', g.lease_row, NULL)) INTO v_ords, v_answers FROM granted g;
    FOR k IN 1 .. COALESCE(cardinality(v_ords), 0) LOOP
        v_results[v_ords[k]] := v_answers[k];
        v_done := v_done + 1;
    END LOOP;
    END IF;

    IF v_release THEN

    -- Releases by the holder, key, epoch and activation that hold the lease: the release branch of cyclelock.release.
    WITH input AS (
        SELECT t.name, t.holder, t.key_hash, t.epoch, t.activation, t.reason, t.by_holder, t.max_stalls, t.ord, clock_timestamp() AS now
          FROM unnest(p_kinds, p_names, p_holders, p_key_hashes, p_epochs, p_activations, p_reasons, p_by_holder, p_max_stalls)
               WITH ORDINALITY AS t(kind, name, holder, key_hash, epoch, activation, reason, by_holder, max_stalls, ord)
         WHERE t.kind = 'release' AND v_locked[t.ord]
    ), released AS (
        UPDATE cyclelock.lease l
           SET state = CASE WHEN i.reason = 'stalled' AND i.max_stalls > 0 AND l.stalls + 1 >= i.max_stalls
                            THEN 'dead' ELSE 'free' END,
               attempts = CASE i.reason WHEN 'completed' THEN 0 WHEN 'failed' THEN l.attempts + 1 ELSE l.attempts END,
               stalls = CASE i.reason WHEN 'completed' THEN 0
                                      WHEN 'stalled' THEN l.stalls + CASE WHEN i.max_stalls < 0 THEN 0 ELSE 1 END
                                      ELSE l.stalls END,
               last_release_reason = i.reason,
               key_hash = NULL,
               activation = NULL,
               expires_at = LEAST(l.expires_at, i.now),
               fence_until = CASE WHEN i.by_holder THEN LEAST(l.fence_until, i.now) ELSE GREATEST(l.fence_until, i.now) END
          FROM input i
         WHERE l.service_id = p_service AND l.name = i.name AND l.state = 'held' AND l.holder_id = i.holder
           AND l.key_hash = i.key_hash AND l.epoch = i.epoch AND l.activation = i.activation
        RETURNING i.ord, i.now, i.holder, i.activation, i.reason, i.by_holder, l AS lease_row
    ), logged AS (
        INSERT INTO cyclelock.history (service_id, name, epoch, event, is_end, holder_id, holder_label, reason, activation, at)
        SELECT p_service, (r.lease_row).name, (r.lease_row).epoch,
               CASE WHEN r.reason = 'lease-lost' AND NOT r.by_holder THEN 'lost' ELSE 'released' END,
               true, r.holder, (r.lease_row).holder_label, r.reason, r.activation, r.now
          FROM released r
        ON CONFLICT (service_id, name, epoch) WHERE is_end DO NOTHING
    ), spent AS (
        INSERT INTO cyclelock.spent_holder (service_id, name, holder_id)
        SELECT p_service, (r.lease_row).name, r.holder FROM released r
        ON CONFLICT DO NOTHING
    )
    SELECT array_agg(r.ord), array_agg(cyclelock.result_of('released', r.lease_row, r.reason)) INTO v_ords, v_answers FROM released r;
    FOR k IN 1 .. COALESCE(cardinality(v_ords), 0) LOOP
        v_results[v_ords[k]] := v_answers[k];
        v_done := v_done + 1;
    END LOOP;
    END IF;

    -- Everything else, by the single-row function itself (its row is locked already), or skipped.
    IF v_done < n THEN
    FOR rec IN
        SELECT t.kind, t.name, t.holder, t.label, t.key_hash, t.ttl, t.epoch, t.activation, t.reason, t.by_holder, t.max_stalls, t.ord
          FROM unnest(p_kinds, p_names, p_holders, p_labels, p_key_hashes, p_ttls, p_epochs, p_activations, p_reasons, p_by_holder, p_max_stalls)
               WITH ORDINALITY AS t(kind, name, holder, label, key_hash, ttl, epoch, activation, reason, by_holder, max_stalls, ord)
         WHERE (v_results[t.ord]).outcome IS NULL
         ORDER BY t.name
    LOOP
        IF NOT v_locked[rec.ord] THEN
            v_results[rec.ord] := ROW('skipped', 0, NULL, NULL, NULL, NULL, interval '0', NULL, clock_timestamp(), NULL, 0, 0, NULL,
                                    current_setting('synchronous_commit'))::cyclelock.op_result;
        ELSIF rec.kind = 'acquire' THEN
            v_results[rec.ord] := cyclelock.acquire(p_service, rec.name, rec.holder, rec.label, rec.key_hash, rec.ttl, rec.activation, p_lock_timeout_ms);
        ELSIF rec.kind = 'release' THEN
            v_results[rec.ord] := cyclelock.release(p_service, rec.name, rec.holder, rec.key_hash, rec.epoch, rec.activation, rec.reason, rec.by_holder, rec.max_stalls);
        ELSE
            v_results[rec.ord] := cyclelock.abandon(p_service, rec.name, rec.holder, rec.key_hash);
        END IF;
    END LOOP;
    END IF;

    RETURN QUERY SELECT s.ord::bigint, v_results[s.ord] FROM generate_series(1, n) AS s(ord);
END
$$;
