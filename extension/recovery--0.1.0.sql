-- recovery 0.1.0: find and recover stuck application runs.
\echo Use "CREATE EXTENSION recovery" to load this file. \quit

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
    watched_by       name        NOT NULL DEFAULT current_user,
    watched_at       timestamptz NOT NULL DEFAULT now()
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
    reason           text        NOT NULL,
    recovered_by     name        NOT NULL,
    application_name text
);
CREATE INDEX history_recovered_at_idx ON recovery.history (recovered_at);
CREATE INDEX history_run_idx ON recovery.history (run_table, run_id);
COMMENT ON TABLE recovery.history IS 'Audit trail: one row per run recovery changed';

-- pg_dump keeps registrations and history (extension tables are skipped otherwise).
SELECT pg_catalog.pg_extension_config_dump('recovery.watched_tables', '');
SELECT pg_catalog.pg_extension_config_dump('recovery.history', '');
SELECT pg_catalog.pg_extension_config_dump('recovery.history_id_seq', '');

-- Only recovery's own functions write these (as the tables' owner); anyone may read.
REVOKE ALL ON recovery.watched_tables, recovery.history FROM PUBLIC;
GRANT SELECT ON recovery.watched_tables, recovery.history TO PUBLIC;
GRANT USAGE ON SCHEMA recovery TO PUBLIC;

CREATE FUNCTION recovery.watch(
    run_table       regclass,
    status_column   name    DEFAULT 'status',
    started_column  name    DEFAULT NULL,
    activity_column name    DEFAULT NULL,
    finished_column name    DEFAULT NULL,
    id_column       name    DEFAULT NULL,
    active_statuses text[]  DEFAULT '{PENDING,PROCESSING}',
    failed_status   text    DEFAULT 'FAILED')
RETURNS boolean
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_watch';
COMMENT ON FUNCTION recovery.watch IS 'Register (or update) a run table; NULL columns are detected. True when newly watched.';

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
    run              jsonb)
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
    run             jsonb)
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'recovery_recover_stuck_runs';
COMMENT ON FUNCTION recovery.recover_stuck_runs IS 'Mark stuck runs failed, record history and NOTIFY recovery; one transaction';

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
                                   ORDER BY r.run_table, r.run_id), '[]'::jsonb))
    FROM recovery.recover_stuck_runs(recover_stuck_runs_report.timeout,
                                     recover_stuck_runs_report.max_runs,
                                     recover_stuck_runs_report.run_table) AS r
$$;
COMMENT ON FUNCTION recovery.recover_stuck_runs_report IS 'recover_stuck_runs as the seed API body {success, message, recovered, runs[]}';
