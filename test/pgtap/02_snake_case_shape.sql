-- A Rails/Django-shaped schema: snake_case columns, text statuses in lower
-- case, bigint identity ids, timestamptz created_at/updated_at/finished_at,
-- and a child table. The scenarios of 01_prisma_shape on this shape: a live
-- run (created long ago, active a minute ago) is not stuck; a 45-minute-old
-- processing run with 3/10 progress is found, reported as stuck for 45
-- minutes and recovered to 'failed' with finished_at set; finished and child
-- rows are untouched; one history row per recovered run; run_id is the bigint
-- as text (exactly, also beyond 2^53).
BEGIN;
SELECT plan(31);

CREATE SCHEMA snake_app;
SET LOCAL search_path = snake_app, public;

-- Rails: t.string :status; t.timestamps (created_at/updated_at, always set).
CREATE TABLE snake_app.import_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    status      text NOT NULL DEFAULT 'pending',
    total_rows  integer NOT NULL DEFAULT 0,
    done_rows   integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE TABLE snake_app.import_rows (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id  bigint NOT NULL REFERENCES snake_app.import_runs (id),
    payload jsonb NOT NULL
);

-- Ids beyond 2^53 (9007199254740992) catch any trip through a double.
INSERT INTO snake_app.import_runs
    (id, name, status, total_rows, done_rows, created_at, updated_at, finished_at)
OVERRIDING SYSTEM VALUE
VALUES
    (9007199254740993, 'stuck-45',   'processing', 10, 3,
     now() - interval '45 minutes 20 seconds', now() - interval '45 minutes 20 seconds', NULL),
    (9007199254740995, 'pending-2h', 'pending',    10, 0,
     now() - interval '2 hours', now() - interval '2 hours', NULL),
    (3, 'alive',      'processing', 10, 6, now() - interval '3 hours', now() - interval '1 minute', NULL),
    (4, 'young',      'processing', 10, 1, now() - interval '5 minutes', now() - interval '5 minutes', NULL),
    (5, 'done',       'completed',  10, 10, now() - interval '5 hours', now() - interval '4 hours', NULL),
    (6, 'failed-old', 'failed',     10, 2, now() - interval '6 hours', now() - interval '6 hours',
     now() - interval '6 hours'),
    -- Upper case is another word: 'PROCESSING' is not an active status here.
    (7, 'shouting',   'PROCESSING', 10, 0, now() - interval '6 hours', now() - interval '6 hours', NULL);
INSERT INTO snake_app.import_rows (run_id, payload)
VALUES (9007199254740993, '{"row": 1}'), (9007199254740993, '{"row": 2}'), (9007199254740993, '{"row": 3}'),
       (3, '{"row": 1}');

-- The state before, to show what recovery changed and what it did not.
CREATE TEMP TABLE before_runs ON COMMIT DROP AS SELECT * FROM snake_app.import_runs;
CREATE TEMP TABLE before_rows ON COMMIT DROP AS SELECT * FROM snake_app.import_rows;
SELECT count(*) AS history_before FROM recovery.history \gset

-- registration, with every column detected.
SELECT is(recovery.watch('snake_app.import_runs', active_statuses => '{pending,processing}',
                         failed_status => 'failed'),
          true, 'watch registers the snake_case table');
SELECT results_eq(
    $$SELECT table_name, status_column::text COLLATE "default", started_column::text COLLATE "default",
             activity_column::text COLLATE "default", finished_column::text COLLATE "default",
             id_column::text COLLATE "default", active_statuses, failed_status
      FROM recovery.watched_tables WHERE run_table = 'snake_app.import_runs'::regclass$$,
    $$VALUES ('snake_app.import_runs'::text, 'status'::text, 'created_at'::text, 'updated_at'::text,
              'finished_at'::text, 'id'::text, '{pending,processing}'::text[], 'failed'::text)$$,
    'created_at, updated_at, finished_at and the bigint primary key are detected');
SELECT is(recovery.watch('snake_app.import_runs', active_statuses => '{pending,processing}',
                         failed_status => 'failed'),
          false, 'watching it again updates the registration and returns false');

-- find.
SELECT results_eq(
    $$SELECT run_table, run_id, status, stuck_minutes, reason
      FROM recovery.find_stuck_runs('30 minutes', 'snake_app.import_runs')$$,
    $$VALUES ('snake_app.import_runs'::text, '9007199254740995'::text, 'pending'::text, 120, 'timeout'::text),
             ('snake_app.import_runs'::text, '9007199254740993'::text, 'processing'::text, 45, 'timeout'::text)$$,
    'the 2-hour-old pending run and the 45-minute-old processing run are stuck, oldest first');
SELECT is((SELECT run_id FROM recovery.find_stuck_runs('30 minutes', 'snake_app.import_runs')
           WHERE status = 'processing'),
          (SELECT id::text FROM snake_app.import_runs WHERE name = 'stuck-45'),
          'run_id is the bigint id as text, exactly (beyond 2^53)');
SELECT is((SELECT (run->>'done_rows') || '/' || (run->>'total_rows') || ' ' || (run->>'name')
           FROM recovery.find_stuck_runs('30 minutes', 'snake_app.import_runs') WHERE status = 'processing'),
          '3/10 stuck-45', 'the run row carries its progress and name');
SELECT is((SELECT (run->'id')::text FROM recovery.find_stuck_runs('30 minutes', 'snake_app.import_runs')
           WHERE status = 'processing'),
          '9007199254740993', 'the run row keeps the exact bigint');
SELECT is((SELECT (started_at, last_activity_at)::text FROM recovery.find_stuck_runs('30 minutes', 'snake_app.import_runs')
           WHERE status = 'processing'),
          (SELECT (created_at, updated_at)::text FROM snake_app.import_runs WHERE name = 'stuck-45'),
          'started_at and last_activity_at are the stored created_at and updated_at');
SELECT set_eq($$SELECT * FROM snake_app.import_runs$$, $$SELECT * FROM before_runs$$,
              'find changes nothing');

-- the report body counts the same runs.
SELECT is(recovery.stuck_runs_report('30 minutes', 'snake_app.import_runs') -> 'count', '2'::jsonb,
          'the report counts the two stuck runs');

-- recover.
SELECT results_eq(
    $$SELECT run_table, run_id, previous_status, new_status, stuck_minutes, reason, recovered_at = now()
      FROM recovery.recover_stuck_runs('30 minutes', run_table => 'snake_app.import_runs')
      ORDER BY run_id$$,
    $$VALUES ('snake_app.import_runs'::text, '9007199254740993'::text, 'processing'::text, 'failed'::text, 45, 'timeout'::text, true),
             ('snake_app.import_runs'::text, '9007199254740995'::text, 'pending'::text, 'failed'::text, 120, 'timeout'::text, true)$$,
    'recover fails exactly the two stuck runs');
SELECT is((SELECT status FROM snake_app.import_runs WHERE name = 'stuck-45'), 'failed',
          'the stuck processing run is failed');
SELECT is((SELECT finished_at FROM snake_app.import_runs WHERE name = 'stuck-45'), now(),
          'and has finished_at set to the recovery time');
SELECT is((SELECT (status, finished_at = now()) FROM snake_app.import_runs WHERE name = 'pending-2h'),
          ('failed'::text, true), 'the stuck pending run is failed with finished_at set');
SELECT results_eq(
    $$SELECT id, name, total_rows, done_rows, created_at, updated_at FROM snake_app.import_runs
      WHERE name IN ('stuck-45', 'pending-2h') ORDER BY id$$,
    $$SELECT id, name, total_rows, done_rows, created_at, updated_at FROM before_runs
      WHERE name IN ('stuck-45', 'pending-2h') ORDER BY id$$,
    'progress, names, created_at and updated_at of recovered runs are kept');
SELECT is((SELECT done_rows FROM snake_app.import_runs WHERE name = 'stuck-45'), 3, 'its progress 3/10 is kept');

-- untouched rows and tables.
SELECT set_eq($$SELECT * FROM snake_app.import_runs WHERE name = 'alive'$$,
              $$SELECT * FROM before_runs WHERE name = 'alive'$$,
              'a run created long ago but active a minute ago is untouched');
SELECT set_eq($$SELECT * FROM snake_app.import_runs WHERE name = 'young'$$,
              $$SELECT * FROM before_runs WHERE name = 'young'$$,
              'a run started 5 minutes ago is untouched');
SELECT set_eq($$SELECT * FROM snake_app.import_runs WHERE name IN ('done', 'failed-old')$$,
              $$SELECT * FROM before_runs WHERE name IN ('done', 'failed-old')$$,
              'completed and failed runs are untouched (finished_at too)');
SELECT set_eq($$SELECT * FROM snake_app.import_runs WHERE name = 'shouting'$$,
              $$SELECT * FROM before_runs WHERE name = 'shouting'$$,
              'statuses are compared exactly: ''PROCESSING'' is not ''processing''');
SELECT set_eq($$SELECT * FROM snake_app.import_rows$$, $$SELECT * FROM before_rows$$,
              'child rows stay as they are');

-- history.
SELECT is((SELECT count(*) FROM recovery.history) - :history_before, 2::bigint,
          'one history row per recovered run');
SELECT results_eq(
    $$SELECT run_table, run_id, previous_status, new_status, stuck_minutes, reason, recovered_by::text COLLATE "default"
      FROM recovery.history WHERE run_table = 'snake_app.import_runs' ORDER BY run_id$$,
    $$VALUES ('snake_app.import_runs'::text, '9007199254740993'::text, 'processing'::text, 'failed'::text, 45, 'timeout'::text, current_user::text COLLATE "default"),
             ('snake_app.import_runs'::text, '9007199254740995'::text, 'pending'::text, 'failed'::text, 120, 'timeout'::text, current_user::text COLLATE "default")$$,
    'history names the table, the bigint id as text, the transition and who did it');
SELECT is((SELECT (h.started_at, h.last_activity_at)::text FROM recovery.history h
           WHERE h.run_table = 'snake_app.import_runs' AND h.run_id = '9007199254740993'),
          (SELECT (created_at, updated_at)::text FROM before_runs WHERE name = 'stuck-45'),
          'history keeps why: started_at and last activity');
SELECT is((SELECT count(*) FROM recovery.history h
           WHERE h.run_table = 'snake_app.import_runs'
             AND h.run_id NOT IN (SELECT id::text FROM snake_app.import_runs WHERE status = 'failed'
                                  AND finished_at = now())),
          0::bigint, 'every history row is a run that was failed now');

-- nothing left; a second call changes nothing.
SELECT is_empty($$SELECT * FROM recovery.find_stuck_runs('30 minutes', 'snake_app.import_runs')$$,
                'nothing is stuck any more');
SELECT is_empty($$SELECT * FROM recovery.recover_stuck_runs('30 minutes', run_table => 'snake_app.import_runs')$$,
                'a second recover finds nothing');
SELECT is((SELECT count(*) FROM recovery.history) - :history_before, 2::bigint,
          'and writes no more history');

-- a Django-shaped table: varchar(20) status, uuid primary key,
-- started_at (no updated_at), finished_at; detected as well.
CREATE TABLE snake_app.reports_job (
    id          uuid PRIMARY KEY,
    status      varchar(20) NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
);
INSERT INTO snake_app.reports_job VALUES
    ('8f2b8a56-6b3e-4c1e-9a8e-2f1f1a0b2c3d', 'processing', now() - interval '50 minutes', NULL),
    ('00000000-0000-0000-0000-000000000001', 'processing', now() - interval '10 minutes', NULL);
SELECT ok(recovery.watch('snake_app.reports_job', active_statuses => '{pending,processing}',
                         failed_status => 'failed'), 'the Django table is registered (started_at detected)');
SELECT results_eq(
    $$SELECT run_id, previous_status, new_status, stuck_minutes
      FROM recovery.recover_stuck_runs('30 minutes', run_table => 'snake_app.reports_job')$$,
    $$VALUES ('8f2b8a56-6b3e-4c1e-9a8e-2f1f1a0b2c3d'::text, 'processing'::text, 'failed'::text, 50)$$,
    'a Django table (uuid id, varchar status, started_at) is recovered; run_id is the uuid text');
SELECT results_eq(
    $$SELECT id::text, status::text, finished_at IS NOT NULL FROM snake_app.reports_job ORDER BY id$$,
    $$VALUES ('00000000-0000-0000-0000-000000000001'::text, 'processing'::text, false),
             ('8f2b8a56-6b3e-4c1e-9a8e-2f1f1a0b2c3d'::text, 'failed'::text, true)$$,
    'only the stuck Django job changed');

SELECT * FROM finish();
ROLLBACK;
