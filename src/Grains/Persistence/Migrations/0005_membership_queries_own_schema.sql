-- CycleLock schema 5: CycleLock's Orleans membership queries leave public.orleansquery.
-- Versions before this one upserted their query texts into public.orleansquery, the table the standard
-- Orleans ADO.NET scripts use, which in a database shared with another Orleans cluster re-pointed that
-- cluster's membership at CycleLock's tables. Migration 0002 now writes them to cyclelock.orleansquery
-- (resolved through the runtime role's search_path). Here, on a database migrated by an older version,
-- the rows CycleLock wrote (every query text that names a cyclelock.orleans_ object) are copied to the
-- own table and removed from public, and public.orleansquery is dropped only if nothing else is left in
-- it. A cluster whose rows were overwritten by an older CycleLock must re-run its own Orleans scripts.
CREATE TABLE IF NOT EXISTS cyclelock.orleansquery (
    querykey  text NOT NULL PRIMARY KEY,
    querytext text NOT NULL
);

DO $$
BEGIN
    IF to_regclass('public.orleansquery') IS NOT NULL THEN
        INSERT INTO cyclelock.orleansquery (querykey, querytext)
        SELECT querykey, querytext FROM public.orleansquery WHERE querytext LIKE '%cyclelock.orleans\_%'
        ON CONFLICT (querykey) DO NOTHING;
        DELETE FROM public.orleansquery WHERE querytext LIKE '%cyclelock.orleans\_%';
        IF NOT EXISTS (SELECT 1 FROM public.orleansquery)
           AND (SELECT relowner FROM pg_class WHERE oid = 'public.orleansquery'::regclass)
               = (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN
            DROP TABLE public.orleansquery; -- only a table this role created; another owner's empty table stays
        END IF;
    END IF;
END
$$;
