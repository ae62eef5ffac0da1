-- recovery 0.1.0 -> 0.2.0: table code runs as the table's owner; history and
-- claims visible only to readers of the run table; watch(..., notify);
-- claims of dropped tables forgotten; app instances.
\echo Use "ALTER EXTENSION recovery UPDATE TO '0.2.0'" to load this file. \quit

ALTER TABLE recovery.watched_tables
    ADD COLUMN notify boolean NOT NULL DEFAULT true,
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
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
    notify           boolean  DEFAULT true,
    time_zone        text     DEFAULT NULL)
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

-- schedule(): the engine's rule for timeouts, checked before pg_cron is looked for.
CREATE OR REPLACE FUNCTION recovery.schedule(
    cron_schedule text     DEFAULT '*/5 * * * *',
    timeout       interval DEFAULT '30 minutes',
    database      name     DEFAULT current_database())
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job_name text := 'recovery:' || schedule.database;
    command  text;
    job_id   bigint;
BEGIN
    -- The engine's rule for a timeout: a positive span whose cutoff, on the
    -- UTC calendar, lies in the past ('-1 year 361 days' is refused).
    IF schedule.timeout IS NULL THEN
        RAISE EXCEPTION 'timeout must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF schedule.timeout <= interval '0'
       OR (now() AT TIME ZONE 'UTC') - schedule.timeout >= (now() AT TIME ZONE 'UTC') THEN
        RAISE EXCEPTION 'timeout must be a positive interval' USING ERRCODE = '22023',
            HINT = 'Pass how long a run may go without activity, for example ''30 minutes''.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = '55000',
                  HINT = 'Add pg_cron to shared_preload_libraries, CREATE EXTENSION pg_cron in the '
                         'database named by cron.database_name, and call recovery.schedule() there. '
                         'Or use the recovery background worker instead.';
    END IF;
    IF schedule.database IS NULL OR schedule.cron_schedule IS NULL THEN
        RAISE EXCEPTION 'cron_schedule and database must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- pg_cron stores the job as SQL text: the timeout goes in as a quoted literal.
    -- Table by table: one table that fails does not stop the others.
    command := format('SELECT * FROM recovery.recover_each_table(%L::interval)', schedule.timeout);
    IF schedule.database = current_database() THEN
        EXECUTE 'SELECT cron.schedule($1, $2, $3)'
            INTO job_id USING job_name, schedule.cron_schedule, command;
    ELSE
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)'
            INTO job_id USING job_name, schedule.cron_schedule, command, schedule.database::text;
    END IF;
    RETURN job_id;
END
$$;

ALTER TABLE recovery.claims ADD COLUMN incarnation bigint;
DROP FUNCTION recovery.claim(regclass, text);

-- App instances (0.2.0): an app process announces each start of itself
-- (instance_start) and renews a lease (instance_heartbeat); claims made with
-- its token belong to that incarnation instead of a database session, so
-- they work through poolers. One row per incarnation; a name belongs to the
-- role that first used it. The token is never stored, only its sha256.
CREATE TABLE recovery.instance_incarnations (
    id                bigserial   PRIMARY KEY,
    instance          text        NOT NULL,
    token_hash        bytea       NOT NULL UNIQUE,
    role_name         name        NOT NULL,
    started_at        timestamptz NOT NULL,
    last_heartbeat_at timestamptz NOT NULL,
    lease             interval    NOT NULL,
    ended_at          timestamptz,
    end_reason        text        -- superseded (a newer incarnation started), stopped
);
CREATE UNIQUE INDEX instance_incarnations_current_idx ON recovery.instance_incarnations (instance)
    WHERE ended_at IS NULL;
CREATE INDEX instance_incarnations_instance_idx ON recovery.instance_incarnations (instance);
COMMENT ON TABLE recovery.instance_incarnations IS 'App instance incarnations; written by recovery.instance_start()/heartbeat()/stop()';
-- Not dumped: after a restore every app instance starts again anyway.

-- Rows are visible to the role that started them (superusers see all); the
-- token's hash is not readable at all.
REVOKE ALL ON recovery.instance_incarnations FROM PUBLIC;
GRANT SELECT (id, instance, role_name, started_at, last_heartbeat_at, lease, ended_at, end_reason)
    ON recovery.instance_incarnations TO PUBLIC;
ALTER TABLE recovery.instance_incarnations ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_instances ON recovery.instance_incarnations FOR SELECT TO PUBLIC
    USING (role_name OPERATOR(pg_catalog.=) CURRENT_USER);

CREATE VIEW recovery.instances WITH (security_invoker = true) AS
SELECT i.instance AS name,
       i.started_at,
       i.last_heartbeat_at,
       i.lease,
       CASE WHEN i.end_reason OPERATOR(pg_catalog.=) 'superseded' THEN 'superseded'
            WHEN i.end_reason OPERATOR(pg_catalog.=) 'stopped' THEN 'stopped'
            WHEN i.last_heartbeat_at OPERATOR(pg_catalog.+) i.lease OPERATOR(pg_catalog.<) pg_catalog.clock_timestamp()
            THEN 'lapsed'
            ELSE 'alive' END AS state,
       (SELECT pg_catalog.count(*) FROM recovery.claims AS c
        WHERE c.incarnation OPERATOR(pg_catalog.=) i.id) AS claimed_runs,
       i.role_name AS role,
       i.ended_at,
       i.id AS incarnation
FROM recovery.instance_incarnations AS i;
COMMENT ON VIEW recovery.instances IS 'App instance incarnations: alive, lapsed, superseded or stopped, and how many runs each claims';
GRANT SELECT ON recovery.instances TO PUBLIC;

CREATE FUNCTION recovery.instance_start(name text, lease interval DEFAULT '30 seconds')
RETURNS text
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_instance_start';
COMMENT ON FUNCTION recovery.instance_start IS 'Start a new incarnation of app instance name and return its token; earlier incarnations end (their runs are stuck: instance_restarted)';

CREATE FUNCTION recovery.instance_heartbeat(token text)
RETURNS boolean
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_instance_heartbeat';
COMMENT ON FUNCTION recovery.instance_heartbeat IS 'Renew the lease of an incarnation; false when it has ended (superseded, stopped or lapsed): stop working on its runs';

CREATE FUNCTION recovery.instance_stop(token text)
RETURNS integer
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_instance_stop';
COMMENT ON FUNCTION recovery.instance_stop IS 'End an incarnation (graceful shutdown): its claimed runs are stuck at once (instance_stopped); returns how many';

-- Claims: the app says which session (or, with a token, which app instance
-- incarnation) works on a run; recovery knows for certain when it is gone.
CREATE FUNCTION recovery.claim(run_table regclass, run_id text, instance text DEFAULT NULL)
RETURNS boolean
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_claim';
COMMENT ON FUNCTION recovery.claim IS 'This session (or the incarnation whose token is instance) owns the run until release (or the run finishes); when the owner is gone, the run is stuck at once';

-- Metrics (README, Monitoring): one row per watched table the caller may
-- read, cheap enough to scrape every 15 seconds.
CREATE INDEX history_table_recovered_at_idx ON recovery.history (run_table_oid, recovered_at)
    WHERE undo_of IS NULL;

-- History indexes, each for a reader, each paid by every recovered run
-- (bench/RESULTS.md, "Recovery at the cost of the UPDATE"): recovered_at is
-- BRIN (rows arrive in time order; prune_history and time windows read
-- ranges of it), run_id a hash index (undo's check for a later recovery of
-- the run, and lookups of one run's history by id).
DROP INDEX recovery.history_recovered_at_idx;
DROP INDEX recovery.history_run_idx;
CREATE INDEX history_recovered_at_idx ON recovery.history USING brin (recovered_at)
    WITH (autosummarize = on);
CREATE INDEX history_run_idx ON recovery.history USING hash (run_id);

CREATE FUNCTION recovery.table_status()
RETURNS TABLE (
    run_table            text,
    stuck_runs           integer,
    oldest_stuck_minutes integer,
    recovered_24h        integer,
    last_recovered_at    timestamptz,
    last_error           text)
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_table_status';
COMMENT ON FUNCTION recovery.table_status IS 'Metrics per watched table the caller may read: runs stuck now (by recovery.timeout and claims), the oldest one''s age, recoveries in 24 hours, the last one, the worker''s last error there';
