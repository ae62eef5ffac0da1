-- recovery 0.1.0 -> 0.2.0: table code runs as the table's owner; history and
-- claims visible only to readers of the run table; watch(..., notify);
-- claims of dropped tables forgotten.
\echo Use "ALTER EXTENSION recovery UPDATE TO '0.2.0'" to load this file. \quit

ALTER TABLE recovery.watched_tables
    ADD COLUMN notify boolean NOT NULL DEFAULT true;
ALTER TABLE recovery.history ADD COLUMN run_table_oid oid;
UPDATE recovery.history
SET run_table_oid = pg_catalog.to_regclass(run_table)::pg_catalog.oid;

ALTER TABLE recovery.history ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers_of_the_run_table ON recovery.history FOR SELECT TO PUBLIC
    USING (pg_catalog.has_table_privilege(run_table_oid, 'SELECT'));
ALTER TABLE recovery.claims ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers_of_the_run_table ON recovery.claims FOR SELECT TO PUBLIC
    USING (pg_catalog.has_table_privilege(run_table::pg_catalog.oid, 'SELECT'));

DROP FUNCTION recovery.watch(regclass, name, name, name, name, name, text[], text, interval, name,
                             name, text, text, name, integer, text, boolean);
CREATE FUNCTION recovery.watch(
    run_table       regclass,
    status_column   name    DEFAULT 'status',
    started_column  name    DEFAULT NULL,
    activity_column name    DEFAULT NULL,
    finished_column name    DEFAULT NULL,
    id_column       name    DEFAULT NULL,
    active_statuses text[]  DEFAULT '{PENDING,PROCESSING}',
    failed_status   text    DEFAULT 'FAILED',
    max_runtime      interval DEFAULT NULL,
    progress_column  name     DEFAULT NULL,
    total_column     name     DEFAULT NULL,
    completed_status text     DEFAULT 'COMPLETED',
    on_stuck         text     DEFAULT 'fail',
    attempts_column  name     DEFAULT NULL,
    max_attempts     integer  DEFAULT NULL,
    requeue_status   text     DEFAULT 'PENDING',
    create_index     boolean  DEFAULT false,
    notify           boolean  DEFAULT true)
RETURNS boolean
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_watch';
COMMENT ON FUNCTION recovery.watch IS 'Register (or update) a run table; NULL columns are detected. True when newly watched.';

CREATE FUNCTION recovery.forget_dropped_claims()
RETURNS event_trigger
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_forget_dropped_claims';
COMMENT ON FUNCTION recovery.forget_dropped_claims IS 'Event trigger: drop the claims of dropped tables';
CREATE EVENT TRIGGER recovery_forget_dropped_claims ON sql_drop
    EXECUTE FUNCTION recovery.forget_dropped_claims();

-- The options of recovery.watch() as recovery's own field table describes
-- them (one row per argument after run_table; stored: a column of
-- recovery.watched_tables of the same name).
CREATE FUNCTION recovery.registration_options()
RETURNS TABLE (name text, type text, stored boolean)
LANGUAGE c STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_registration_options';
COMMENT ON FUNCTION recovery.registration_options IS 'The options of recovery.watch(), in argument order, and whether each is stored in recovery.watched_tables';
