-- recovery 0.2.0: find and recover stuck application runs.
\echo Use "CREATE EXTENSION recovery" to load this file. \quit

-- CREATE EXTENSION uses a schema "recovery" that already exists. One owned
-- by an ordinary role would let that role drop the extension, its audit
-- trail and registrations later: refuse it.
DO $$
DECLARE
    owner_name name;
BEGIN
    SELECT r.rolname INTO owner_name
    FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
    WHERE n.nspname OPERATOR(pg_catalog.=) 'recovery' AND NOT r.rolsuper
      AND r.rolname OPERATOR(pg_catalog.<>) current_user;
    IF FOUND THEN
        RAISE EXCEPTION 'schema "recovery" is owned by role "%", not by a superuser', owner_name
            USING ERRCODE = '42501',
                  DETAIL = 'That role could drop the extension, its history and registrations.',
                  HINT = 'ALTER SCHEMA recovery OWNER TO ' || pg_catalog.quote_ident(current_user)
                         || '; or DROP SCHEMA recovery; then CREATE EXTENSION recovery again.';
    END IF;
END
$$;

-- Run tables registered with recovery.watch(). One row per table; the
-- columns are stored resolved (detected names written out), so what runs is
-- always visible here.
CREATE TABLE recovery.watched_tables (
    run_table        regclass    PRIMARY KEY,
    table_name       text        NOT NULL,   -- name when registered, for messages after a drop
    status_column    name        NOT NULL,
    started_column   name        NOT NULL,
    activity_column  name,
    finished_column  name,
    id_column        name        NOT NULL,
    active_statuses  text[]      NOT NULL,
    failed_status    text        NOT NULL,
    max_runtime      interval,               -- hard limit, even for a live claimed run
    progress_column  name,                   -- with total_column: finished work is completed, not failed
    total_column     name,
    completed_status text,
    on_stuck         text        NOT NULL DEFAULT 'fail' CHECK (on_stuck IN ('fail', 'requeue')),
    attempts_column  name,
    max_attempts     integer,
    requeue_status   text,
    watched_by       name        NOT NULL DEFAULT current_user,
    watched_at       timestamptz NOT NULL DEFAULT now(),
    notify           boolean     NOT NULL DEFAULT true,  -- a NOTIFY recovery per recovered run
    time_zone        text        NOT NULL DEFAULT 'UTC'  -- the zone plain timestamp columns hold
);
COMMENT ON TABLE recovery.watched_tables IS 'Run tables recovery watches; change with recovery.watch() and recovery.unwatch()';

-- Every recovery, written in the same transaction as the status change.
CREATE TABLE recovery.history (
    id               bigserial   PRIMARY KEY,
    recovered_at     timestamptz NOT NULL DEFAULT now(),
    run_table        text        NOT NULL,
    run_id           text        NOT NULL,
    previous_status  text        NOT NULL,
    new_status       text        NOT NULL,
    started_at       timestamptz,
    last_activity_at timestamptz,
    stuck_minutes    integer     NOT NULL,
    reason           text        NOT NULL,   -- timeout, owner_gone, max_runtime, progress_complete, requeued, undo
    action           text        NOT NULL,   -- fail, complete, requeue, undo
    previous_values  jsonb,                  -- the other columns recovery overwrote, for undo
    undo_of          bigint,                 -- for an undo: the history row it reverted
    recovered_by     name        NOT NULL,
    application_name text,
    run_table_oid    oid                     -- who may see the row: roles that may read this table
);
-- History indexes, each for a reader, each paid by every recovered run
-- (bench/RESULTS.md, "Recovery at the cost of the UPDATE"): recovered_at is
-- BRIN (rows arrive in time order; prune_history and time windows read
-- ranges of it), run_id a hash index (undo's check for a later recovery of
-- the run, and lookups of one run's history by id).
CREATE INDEX history_recovered_at_idx ON recovery.history USING brin (recovered_at)
    WITH (autosummarize = on);
CREATE INDEX history_run_idx ON recovery.history USING hash (run_id);
COMMENT ON TABLE recovery.history IS 'Audit trail: one row per run recovery changed';

-- Claims: which backend works on a run (recovery.claim). A claim whose
-- backend is gone makes the run stuck at once. Not dumped: after a restore
-- every claiming session is gone anyway.
CREATE TABLE recovery.claims (
    run_table     regclass    NOT NULL,
    run_id        text        NOT NULL,
    backend_pid   integer     NOT NULL,
    backend_start timestamptz NOT NULL,
    claimed_at    timestamptz NOT NULL DEFAULT now(),
    claimed_by    name        NOT NULL,
    incarnation   bigint,     -- an app instance's incarnation owns it (recovery.instance_start), not the backend
    PRIMARY KEY (run_table, run_id)
);
COMMENT ON TABLE recovery.claims IS 'Live ownership of runs by database sessions; written by recovery.claim()/release()';

-- pg_dump keeps registrations and history (extension tables are skipped otherwise).
SELECT pg_catalog.pg_extension_config_dump('recovery.watched_tables', '');
SELECT pg_catalog.pg_extension_config_dump('recovery.history', '');
SELECT pg_catalog.pg_extension_config_dump('recovery.history_id_seq', '');

-- Only recovery's own functions write these (as the tables' owner). History
-- and claims rows are visible only to roles that may read the run table
-- (superusers see all); registrations to anyone.
REVOKE ALL ON recovery.watched_tables, recovery.history, recovery.claims FROM PUBLIC;
GRANT SELECT ON recovery.watched_tables, recovery.history, recovery.claims TO PUBLIC;
GRANT USAGE ON SCHEMA recovery TO PUBLIC;
ALTER TABLE recovery.history ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers_of_the_run_table ON recovery.history FOR SELECT TO PUBLIC
    USING (pg_catalog.has_table_privilege(run_table_oid, 'SELECT'));
ALTER TABLE recovery.claims ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers_of_the_run_table ON recovery.claims FOR SELECT TO PUBLIC
    USING (pg_catalog.has_table_privilege(run_table::pg_catalog.oid, 'SELECT'));

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

CREATE FUNCTION recovery.index_advice(run_table regclass)
RETURNS text
LANGUAGE c VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_index_advice';
COMMENT ON FUNCTION recovery.index_advice IS 'The CREATE INDEX statement that lets recovery read only active runs';

CREATE FUNCTION recovery.unwatch(run_table regclass)
RETURNS boolean
LANGUAGE c VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_unwatch';
COMMENT ON FUNCTION recovery.unwatch IS 'Stop watching a run table; false when it was not watched';

CREATE FUNCTION recovery.find_stuck_runs(
    timeout   interval DEFAULT '30 minutes',
    run_table regclass DEFAULT NULL)
RETURNS TABLE (
    run_table        text,
    run_id           text,
    status           text,
    started_at       timestamptz,
    last_activity_at timestamptz,
    stuck_minutes    integer,
    reason           text,
    run              jsonb,
    action           text)
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_find_stuck_runs';
COMMENT ON FUNCTION recovery.find_stuck_runs IS 'Stuck runs of every watched table (or one); changes nothing';

CREATE FUNCTION recovery.recover_stuck_runs(
    timeout   interval DEFAULT '30 minutes',
    max_runs  integer  DEFAULT NULL,
    run_table regclass DEFAULT NULL)
RETURNS TABLE (
    run_table       text,
    run_id          text,
    previous_status text,
    new_status      text,
    started_at      timestamptz,
    stuck_minutes   integer,
    reason          text,
    recovered_at    timestamptz,
    run             jsonb,
    action          text)
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_recover_stuck_runs';
COMMENT ON FUNCTION recovery.recover_stuck_runs IS 'Mark stuck runs failed, record history and NOTIFY recovery; one transaction';

-- Every watched table in a subtransaction of its own: a table that fails is
-- rolled back alone (WARNING, and its row says why); the others are kept.
CREATE FUNCTION recovery.recover_each_table(
    timeout  interval DEFAULT '30 minutes',
    max_runs integer  DEFAULT NULL)
RETURNS TABLE (
    run_table text,
    recovered bigint,
    sqlstate  text,
    error     text)
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_recover_each_table';
COMMENT ON FUNCTION recovery.recover_each_table IS 'recover_stuck_runs for every watched table, each in its own subtransaction; one row per table';

-- The seed's HTTP API bodies, so an app route is one raw query.
CREATE FUNCTION recovery.stuck_runs_report(
    timeout   interval DEFAULT '30 minutes',
    run_table regclass DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'success', true,
        'count', count(*),
        'runs', coalesce(jsonb_agg(f.run || jsonb_build_object('stuckFor', f.stuck_minutes)
                                   ORDER BY f.last_activity_at, f.run_table, f.run_id), '[]'::jsonb))
    FROM recovery.find_stuck_runs(stuck_runs_report.timeout, stuck_runs_report.run_table) AS f
$$;
COMMENT ON FUNCTION recovery.stuck_runs_report IS 'find_stuck_runs as the seed API body {success, count, runs[]}';

CREATE FUNCTION recovery.recover_stuck_runs_report(
    timeout   interval DEFAULT '30 minutes',
    max_runs  integer  DEFAULT NULL,
    run_table regclass DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'success', true,
        'message', format('Recovered %s stuck runs', count(*)),
        'recovered', count(*),
        'runs', coalesce(jsonb_agg(r.run || jsonb_build_object('stuckFor', r.stuck_minutes)
                                   ORDER BY r.stuck_minutes DESC, r.run_table, r.run_id), '[]'::jsonb))
    FROM recovery.recover_stuck_runs(recover_stuck_runs_report.timeout,
                                     recover_stuck_runs_report.max_runs,
                                     recover_stuck_runs_report.run_table) AS r
$$;
COMMENT ON FUNCTION recovery.recover_stuck_runs_report IS 'recover_stuck_runs as the seed API body {success, message, recovered, runs[]}';

-- Claims: the app says which session works on a run; recovery knows for
-- certain when that session is gone.

CREATE FUNCTION recovery.release(run_table regclass, run_id text)
RETURNS boolean
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_release';
COMMENT ON FUNCTION recovery.release IS 'End a claim; false when there was none';

CREATE FUNCTION recovery.backend_alive(pid integer, backend_start timestamptz)
RETURNS boolean
LANGUAGE c VOLATILE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_backend_alive';
COMMENT ON FUNCTION recovery.backend_alive IS 'Whether the server process pid, started at backend_start, still runs';

CREATE FUNCTION recovery.undo(history_id bigint)
RETURNS boolean
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_undo';
COMMENT ON FUNCTION recovery.undo IS 'Put a wrongly recovered run back as it was, if nothing changed it since';

-- The background worker (with shared_preload_libraries = 'recovery').
CREATE FUNCTION recovery.worker_status()
RETURNS TABLE (
    database        text,
    pid             integer,
    state           text,
    last_run_at     timestamptz,
    last_recovered  bigint,
    total_recovered bigint,
    last_error      text)
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_worker_status';
COMMENT ON FUNCTION recovery.worker_status IS 'One row per background worker: state, last cycle, counters, last error';

CREATE FUNCTION recovery.run_worker_now(database name DEFAULT current_database())
RETURNS boolean
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_run_worker_now';
COMMENT ON FUNCTION recovery.run_worker_now IS 'Wake the worker of a database for an immediate cycle; false when none runs there';

CREATE FUNCTION recovery.prune_history(older_than interval)
RETURNS bigint
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_prune_history';
COMMENT ON FUNCTION recovery.prune_history IS 'Delete history rows recovered more than older_than ago; returns how many';

-- Administrative functions: not for every role (see README, Privileges).
REVOKE EXECUTE ON FUNCTION recovery.run_worker_now(name), recovery.prune_history(interval) FROM PUBLIC;

-- pg_cron: one job per database, named recovery:<database>. pg_cron may be
-- installed after recovery, so it is only ever reached through EXECUTE.
CREATE FUNCTION recovery.schedule(
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
COMMENT ON FUNCTION recovery.schedule IS 'Create or update the pg_cron job recovery:<database> that recovers stuck runs';

CREATE FUNCTION recovery.unschedule(database name DEFAULT current_database())
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = '55000',
                  HINT = 'Call recovery.unschedule() in the database where pg_cron is installed.';
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1 AND username = current_user)'
        INTO found USING 'recovery:' || unschedule.database;
    IF NOT found THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' INTO found USING 'recovery:' || unschedule.database;
    RETURN found;
END
$$;
COMMENT ON FUNCTION recovery.unschedule IS 'Remove the pg_cron job recovery:<database>; false when there was none';

-- A dropped run table takes its claims with it.
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
