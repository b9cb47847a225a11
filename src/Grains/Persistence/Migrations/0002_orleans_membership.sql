-- CycleLock schema 2: Orleans cluster membership on PostgreSQL, written from the contract of
-- Microsoft.Orleans.Clustering.AdoNet (the package ships no SQL). The provider reads its queries with
-- "SELECT QueryKey, QueryText FROM OrleansQuery" (unqualified) and binds
-- named parameters (@DeploymentId, @Address, ...). Reads must return the version row even with no silos
-- (a LEFT JOIN from the version table); inserts and updates are conditional on the expected @Version,
-- bump it, and answer one row with one column (non-zero on success, 0 when the version moved on).
-- The query table lives in CycleLock's own schema, never in public: public.orleansquery is where the
-- standard Orleans scripts keep another cluster's queries, and rows written there would re-point that
-- cluster at these tables. The unqualified name resolves here because the migration sets the runtime
-- role's search_path in this database to "cyclelock, $user, public" (MigrationRunner), which a silo
-- checks at start.

CREATE TABLE IF NOT EXISTS cyclelock.orleans_membership_version (
    deploymentid text        NOT NULL PRIMARY KEY,
    timestamp    timestamptz NOT NULL DEFAULT now(),
    version      integer     NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS cyclelock.orleans_membership (
    deploymentid text        NOT NULL REFERENCES cyclelock.orleans_membership_version (deploymentid),
    address      text        NOT NULL,
    port         integer     NOT NULL,
    generation   integer     NOT NULL,
    siloname     text        NOT NULL,
    hostname     text        NOT NULL,
    status       integer     NOT NULL,
    proxyport    integer,
    suspecttimes text,
    starttime    timestamptz NOT NULL,
    iamalivetime timestamptz NOT NULL,
    PRIMARY KEY (deploymentid, address, port, generation)
);

CREATE TABLE IF NOT EXISTS cyclelock.orleansquery (
    querykey  text NOT NULL PRIMARY KEY,
    querytext text NOT NULL
);

-- Insert a silo and bump the version atomically, only when the version is still the one read.
CREATE OR REPLACE FUNCTION cyclelock.orleans_insert_membership(
    p_deployment text, p_iamalive timestamptz, p_siloname text, p_hostname text, p_address text, p_port integer,
    p_generation integer, p_starttime timestamptz, p_status integer, p_proxyport integer, p_version integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
BEGIN
    UPDATE cyclelock.orleans_membership_version SET version = version + 1, timestamp = now()
     WHERE deploymentid = p_deployment AND version = p_version;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    INSERT INTO cyclelock.orleans_membership (deploymentid, address, port, generation, siloname, hostname, status, proxyport, starttime, iamalivetime)
    VALUES (p_deployment, p_address, p_port, p_generation, p_siloname, p_hostname, p_status, p_proxyport, p_starttime, p_iamalive)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'cyclelock: membership row exists';
    END IF;
    RETURN 1;
EXCEPTION WHEN SQLSTATE 'P0001' THEN
    RETURN 0; -- the version bump is rolled back with the block
END
$$;

-- Update a silo's status and suspicions and bump the version atomically, only when the version is unchanged.
CREATE OR REPLACE FUNCTION cyclelock.orleans_update_membership(
    p_deployment text, p_address text, p_port integer, p_generation integer, p_iamalive timestamptz,
    p_status integer, p_suspecttimes text, p_version integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, cyclelock
AS $$
BEGIN
    UPDATE cyclelock.orleans_membership_version SET version = version + 1, timestamp = now()
     WHERE deploymentid = p_deployment AND version = p_version;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    UPDATE cyclelock.orleans_membership SET status = p_status, suspecttimes = p_suspecttimes, iamalivetime = p_iamalive
     WHERE deploymentid = p_deployment AND address = p_address AND port = p_port AND generation = p_generation;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'cyclelock: membership row missing';
    END IF;
    RETURN 1;
EXCEPTION WHEN SQLSTATE 'P0001' THEN
    RETURN 0;
END
$$;

INSERT INTO cyclelock.orleansquery (querykey, querytext) VALUES
('InsertMembershipVersionKey', $q$
WITH inserted AS (
    INSERT INTO cyclelock.orleans_membership_version (deploymentid) VALUES (@DeploymentId)
    ON CONFLICT DO NOTHING RETURNING 1)
SELECT count(*)::integer FROM inserted
$q$),
('MembershipReadAllKey', $q$
SELECT v.deploymentid, v.version, m.address, m.port, m.generation, m.siloname, m.hostname, m.status,
       m.proxyport, m.suspecttimes, m.starttime, m.iamalivetime
FROM cyclelock.orleans_membership_version v
LEFT JOIN cyclelock.orleans_membership m ON m.deploymentid = v.deploymentid
WHERE v.deploymentid = @DeploymentId
$q$),
('MembershipReadRowKey', $q$
SELECT v.deploymentid, v.version, m.address, m.port, m.generation, m.siloname, m.hostname, m.status,
       m.proxyport, m.suspecttimes, m.starttime, m.iamalivetime
FROM cyclelock.orleans_membership_version v
LEFT JOIN cyclelock.orleans_membership m ON m.deploymentid = v.deploymentid
     AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
WHERE v.deploymentid = @DeploymentId
$q$),
('InsertMembershipKey', $q$
SELECT cyclelock.orleans_insert_membership(@DeploymentId, @IAmAliveTime, @SiloName, @HostName, @Address, @Port,
       @Generation, @StartTime, @Status, @ProxyPort, @Version)
$q$),
('UpdateMembershipKey', $q$
SELECT cyclelock.orleans_update_membership(@DeploymentId, @Address, @Port, @Generation, @IAmAliveTime, @Status,
       @SuspectTimes, @Version)
$q$),
('UpdateIAmAlivetimeKey', $q$
UPDATE cyclelock.orleans_membership SET iamalivetime = @IAmAliveTime
WHERE deploymentid = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
$q$),
('GatewaysQueryKey', $q$
SELECT address, proxyport, generation FROM cyclelock.orleans_membership
WHERE deploymentid = @DeploymentId AND status = @Status AND proxyport > 0
$q$),
('DeleteMembershipTableEntriesKey', $q$
WITH silos AS (DELETE FROM cyclelock.orleans_membership WHERE deploymentid = @DeploymentId)
DELETE FROM cyclelock.orleans_membership_version WHERE deploymentid = @DeploymentId
$q$),
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM cyclelock.orleans_membership
WHERE deploymentid = @DeploymentId AND iamalivetime < @IAmAliveTime AND status <> 3
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;
