-- recovery.watch / unwatch: detection, re-watching, and every registration error.
\i demo/seed-schema.sql

SELECT recovery.watch('qualification_runs') AS newly_watched;
SELECT run_table, table_name, status_column, started_column, activity_column,
       finished_column, id_column, active_statuses, failed_status
FROM recovery.watched_tables;

-- Re-watching updates the registration in place.
SELECT recovery.watch('qualification_runs', activity_column => 'createdAt', finished_column => 'completedAt') AS newly_watched;
SELECT started_column, activity_column, finished_column FROM recovery.watched_tables;
SELECT recovery.watch('qualification_runs') AS newly_watched;

-- A snake_case table with text statuses, bigint ids and timestamptz.
CREATE TABLE app_jobs (
    job_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state        varchar(20) NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz,
    finished_at  timestamptz
);
SELECT recovery.watch('app_jobs', status_column => 'state',
                      active_statuses => '{queued,running}', failed_status => 'dead');
SELECT table_name, status_column, started_column, activity_column, finished_column, id_column,
       active_statuses, failed_status
FROM recovery.watched_tables ORDER BY table_name;

-- Quoted, spaced and mixed-case names work and cannot inject SQL.
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Runs; DROP TABLE app_jobs; --" (
    "the id"     integer PRIMARY KEY,
    "St""atus"   text NOT NULL,
    "createdAt"  timestamptz NOT NULL
);
SELECT recovery.watch('"Odd Schema"."Runs; DROP TABLE app_jobs; --"', status_column => 'St"atus');
SELECT table_name, status_column, id_column FROM recovery.watched_tables
WHERE table_name LIKE '"Odd%';

-- Registration errors: SQLSTATE, message and hint; nothing is registered.
CREATE VIEW run_view AS SELECT * FROM qualification_runs;
CREATE SEQUENCE some_seq;
CREATE TABLE no_pk (status text, created_at timestamptz);
CREATE TABLE two_col_pk (a int, b int, status text, created_at timestamptz, PRIMARY KEY (a, b));
CREATE TABLE no_started (id int PRIMARY KEY, status text, begun timestamptz);
CREATE TABLE int_status (id int PRIMARY KEY, status int, created_at timestamptz);
CREATE TABLE date_started (id int PRIMARY KEY, status text, created_at date);
CREATE TABLE not_unique (id int, code int PRIMARY KEY, status text, created_at timestamptz);
CREATE TEMP TABLE temp_runs (id int PRIMARY KEY, status text, created_at timestamptz);
CREATE ROLE recovery_stranger;

SELECT * FROM test.try($$SELECT recovery.watch(NULL)$$);
SELECT * FROM test.try($$SELECT recovery.watch('run_view')$$);
SELECT * FROM test.try($$SELECT recovery.watch('some_seq')$$);
SELECT * FROM test.try($$SELECT recovery.watch('pg_class')$$);
SELECT * FROM test.try($$SELECT recovery.watch('temp_runs')$$);
SELECT * FROM test.try($$SELECT recovery.watch('does_not_exist')$$);
SELECT * FROM test.try($$SELECT recovery.watch('no_pk')$$);
SELECT * FROM test.try($$SELECT recovery.watch('two_col_pk')$$);
SELECT * FROM test.try($$SELECT recovery.watch('no_started')$$);
SELECT * FROM test.try($$SELECT recovery.watch('int_status')$$);
SELECT * FROM test.try($$SELECT recovery.watch('date_started')$$);
SELECT * FROM test.try($$SELECT recovery.watch('not_unique', id_column => 'id')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', status_column => NULL)$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', status_column => 'state')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', started_column => 'nope')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', started_column => 'completed')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', active_statuses => '{}')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', active_statuses => NULL)$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', active_statuses => '{PENDING,NULL}')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', active_statuses => '{PENDING,FAILED}')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', failed_status => NULL)$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', failed_status => 'CRASHED')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', active_statuses => '{PENDING,RUNNING}')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', finished_column => 'status')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', finished_column => 'createdAt')$$);
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs', id_column => 'status')$$);
SET ROLE recovery_stranger;
SELECT * FROM test.try($$SELECT recovery.watch('qualification_runs')$$);
SELECT * FROM test.try($$SELECT recovery.unwatch('qualification_runs')$$);
SELECT * FROM test.try($$INSERT INTO recovery.watched_tables (run_table, table_name, status_column, started_column, id_column, active_statuses, failed_status) VALUES ('no_pk', 'x', 'status', 'created_at', 'status', '{a}', 'b')$$);
SELECT * FROM test.try($$DELETE FROM recovery.watched_tables$$);
SELECT * FROM test.try($$INSERT INTO recovery.history (run_table, run_id, previous_status, new_status, stuck_minutes, reason, recovered_by) VALUES ('x', '1', 'a', 'b', 1, 'fake', 'me')$$);
RESET ROLE;

-- Still exactly the three good registrations, unchanged.
SELECT table_name, status_column, active_statuses FROM recovery.watched_tables ORDER BY table_name;

-- unwatch: true, then false; a dropped table can be unwatched by its OID.
SELECT recovery.unwatch('no_pk') AS was_watched;
SELECT recovery.unwatch('"Odd Schema"."Runs; DROP TABLE app_jobs; --"') AS was_watched;
SELECT recovery.unwatch('"Odd Schema"."Runs; DROP TABLE app_jobs; --"') AS was_watched;
SELECT count(*) FROM app_jobs;

-- Index advice: the statement, created on request; then no more NOTICE.
SELECT recovery.index_advice('qualification_runs');
SELECT recovery.index_advice('no_pk') IS NULL AS unwatched_gives_error;
SELECT recovery.watch('app_jobs', status_column => 'state', active_statuses => '{queued,running}',
                      failed_status => 'dead', create_index => true) AS newly_watched;
SELECT indexdef FROM pg_indexes WHERE tablename = 'app_jobs' AND indexname LIKE '%recovery%';
SELECT recovery.watch('app_jobs', status_column => 'state', active_statuses => '{queued,running}',
                      failed_status => 'dead') AS newly_watched;
