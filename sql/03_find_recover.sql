-- find_stuck_runs and recover_stuck_runs on the seed's schema (registered in
-- 02_watch): what counts as stuck, what changes, history, and reports.
SET TimeZone = 'America/New_York';  -- answers must not depend on it
TRUNCATE qualification_runs, prospects, "ICP", "Company" CASCADE;
INSERT INTO "Company" VALUES ('c1', 'Stripe', 'stripe.com');
INSERT INTO "ICP" VALUES ('icp1', 'E-commerce SaaS Companies', 'c1');
-- Prisma writes UTC wall-clock times into timestamp(3).
INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt", "completedAt")
SELECT id, 'icp1', status::"RunStatus", 10, done,
       (now() AT TIME ZONE 'UTC') - created, (now() AT TIME ZONE 'UTC') - updated, NULL
FROM (VALUES
    ('stuck-45',     'PROCESSING', 3,  interval '45 minutes 10 seconds', NULL),
    ('pending-2h',   'PENDING',    0,  interval '2 hours',               NULL),
    ('alive',        'PROCESSING', 6,  interval '3 hours',               interval '1 minute'),
    ('young',        'PROCESSING', 1,  interval '5 minutes',             NULL),
    ('done',         'COMPLETED', 10,  interval '5 hours',               interval '4 hours'),
    ('failed-old',   'FAILED',     2,  interval '6 hours',               NULL)
) AS v(id, status, done, created, updated);
INSERT INTO prospects VALUES ('p1', 'stuck-45', 'a.example', 80), ('p2', 'stuck-45', 'b.example', NULL);
TRUNCATE app_jobs;
INSERT INTO app_jobs (state, created_at, heartbeat_at) VALUES
    ('running', now() - interval '50 minutes', now() - interval '40 minutes'),
    ('running', now() - interval '50 minutes', now() - interval '10 seconds'),
    ('queued',  now() - interval '48 hours', NULL),
    ('done',    now() - interval '48 hours', NULL);

-- Check: oldest first, nothing changes.
SELECT run_table, run_id, status, stuck_minutes, reason,
       last_activity_at = started_at AS never_active,
       run->>'completed' AS completed, run->>'totalProspects' AS total
FROM recovery.find_stuck_runs('30 minutes');
SELECT run_table, run_id, status, stuck_minutes
FROM recovery.find_stuck_runs('1 hour', run_table => 'app_jobs');
SELECT count(*) AS unchanged_active FROM qualification_runs WHERE status IN ('PENDING', 'PROCESSING');

-- The started/last activity times are the stored UTC times, whatever the TimeZone.
SELECT (started_at AT TIME ZONE 'UTC') = (run->>'createdAt')::timestamp AS utc_read
FROM recovery.find_stuck_runs('30 minutes', 'qualification_runs');

-- Reports: the seed's API bodies.
SELECT r - 'runs' AS report,
       (SELECT jsonb_agg(jsonb_build_object('id', x->'id', 'status', x->'status', 'stuckFor', x->'stuckFor',
                                            'completed', x->'completed', 'icpId', x->'icpId'))
        FROM jsonb_array_elements(r->'runs') x) AS runs
FROM recovery.stuck_runs_report('30 minutes', 'qualification_runs') r;

-- Recover with a cap: the oldest first.
SELECT run_table, run_id, previous_status, new_status, stuck_minutes, reason,
       recovered_at = now() AS at_now, run->>'status' AS row_status
FROM recovery.recover_stuck_runs('30 minutes', max_runs => 1);

-- Then the rest, across both tables.
SELECT run_table, run_id, previous_status, new_status, stuck_minutes, reason
FROM recovery.recover_stuck_runs('30 minutes') ORDER BY run_table, run_id;

-- What changed: status and the finished column of stuck runs only.
SELECT id, status, "completedAt" IS NOT NULL AS finished, "updatedAt" IS NOT NULL AS has_updated,
       completed
FROM qualification_runs ORDER BY id;
SELECT job_id, state, finished_at IS NOT NULL AS finished FROM app_jobs ORDER BY job_id;
SELECT count(*) AS prospects_kept FROM prospects;
-- completedAt is the recovery time as UTC wall clock.
SELECT q.id, q."completedAt" = (h.recovered_at AT TIME ZONE 'UTC')::timestamp(3) AS completed_at_utc
FROM qualification_runs q JOIN recovery.history h ON h.run_id = q.id ORDER BY q.id;

-- History: one row per recovered run, with who did it.
SELECT run_table, run_id, previous_status, new_status, stuck_minutes, reason,
       recovered_by = current_user AS by_me, application_name
FROM recovery.history ORDER BY id;

-- Nothing left: the report says so.
SELECT recovery.recover_stuck_runs_report('30 minutes');
SELECT count(*) AS history_rows FROM recovery.history;

-- An error raised deep inside the recovery statement (here the table's own
-- trigger) names the table recovery was working on in its CONTEXT.
CREATE TABLE refusing_runs (id int PRIMARY KEY, status text NOT NULL,
                            created_at timestamptz NOT NULL, finished_at timestamptz);
CREATE FUNCTION refuse_recovery() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'run % is still mine', OLD.id; END $$;
CREATE TRIGGER refuse BEFORE UPDATE ON refusing_runs FOR EACH ROW EXECUTE FUNCTION refuse_recovery();
SELECT recovery.watch('refusing_runs', active_statuses => '{running}', failed_status => 'failed',
                      create_index => true);
INSERT INTO refusing_runs VALUES (1, 'running', now() - interval '2 hours', NULL);
DO $$
DECLARE
  context text;
BEGIN
  PERFORM * FROM recovery.recover_stuck_runs('30 minutes', run_table => 'refusing_runs');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS context = PG_EXCEPTION_CONTEXT;
  RAISE NOTICE '% (%): %', SQLERRM, SQLSTATE,
    (SELECT string_agg(line, ' | ') FROM regexp_split_to_table(context, E'\n') AS line
     WHERE line LIKE 'recovery:%');
END $$;
SELECT id, status, finished_at FROM refusing_runs;

-- recover_each_table: the same table fails alone (WARNING, a row saying why)
-- and the others are recovered; max_runs is checked first.
INSERT INTO app_jobs (state, created_at) VALUES ('running', now() - interval '3 hours');
SELECT * FROM recovery.recover_each_table('30 minutes', max_runs => 0);
SELECT max(id) AS history_before FROM recovery.history \gset
SELECT * FROM recovery.recover_each_table('30 minutes');
SELECT state, finished_at IS NOT NULL AS finished FROM app_jobs ORDER BY job_id DESC LIMIT 1;
SELECT run_table, previous_status, new_status FROM recovery.history WHERE id > :history_before ORDER BY id;
SELECT id, status, finished_at FROM refusing_runs;
SELECT recovery.unwatch('refusing_runs');
DROP TABLE refusing_runs;
DROP FUNCTION refuse_recovery();
RESET TimeZone;
