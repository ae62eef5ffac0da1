-- The minimal statement with recovery's guarantees (issue 12, point 5), as
-- one would write it by hand: a SKIP LOCKED lock pass (oldest first, never
-- waiting on a live transaction's row), the UPDATE re-checking that each
-- locked row is still active and still stuck, one history row per run (the
-- extension's columns, previous_values included: undo needs them) into a
-- history table with a primary key only (bench.history_min), and one NOTIFY
-- per run with the extension's payload. It returns one row: how many runs
-- it recovered (as recover_each_table does, the worker's path).
WITH stuck AS (
  SELECT t.ctid AS row_id, t.status AS previous_status,
         jsonb_build_object('completedAt', t."completedAt") AS previous_values
  FROM qualification_runs t
  WHERE t.status IN ('PENDING', 'PROCESSING')
    AND GREATEST(t."createdAt", t."updatedAt") < (now() AT TIME ZONE 'UTC') - interval '30 minutes'
  ORDER BY GREATEST(t."createdAt", t."updatedAt")
  FOR NO KEY UPDATE OF t SKIP LOCKED
), recovered AS (
  UPDATE qualification_runs t
  SET status = 'FAILED', "completedAt" = now() AT TIME ZONE 'UTC'
  FROM stuck s
  WHERE t.ctid = s.row_id
    AND t.status IN ('PENDING', 'PROCESSING')
    AND GREATEST(t."createdAt", t."updatedAt") < (now() AT TIME ZONE 'UTC') - interval '30 minutes'
  RETURNING t.id AS run_id, s.previous_status::text AS previous_status, t.status::text AS new_status,
            t."createdAt" AT TIME ZONE 'UTC' AS started_at,
            GREATEST(t."createdAt", t."updatedAt") AT TIME ZONE 'UTC' AS last_activity_at,
            floor(extract(epoch FROM (now() AT TIME ZONE 'UTC') - GREATEST(t."createdAt", t."updatedAt")) / 60)::int AS stuck_minutes,
            s.previous_values
), history AS (
  INSERT INTO bench.history_min (run_table, run_id, previous_status, new_status, started_at,
                                 last_activity_at, stuck_minutes, reason, action, previous_values,
                                 recovered_by, application_name, run_table_oid)
  SELECT 'public.qualification_runs', run_id, previous_status, new_status, started_at,
         last_activity_at, stuck_minutes, 'timeout', 'fail', previous_values,
         current_user, current_setting('application_name'), 'public.qualification_runs'::regclass::oid
  FROM recovered
)
SELECT count(*) AS recovered
FROM recovered r
CROSS JOIN LATERAL (
  SELECT pg_notify('recovery', jsonb_build_object('run_table', 'public.qualification_runs',
                                                  'run_id', r.run_id,
                                                  'previous_status', r.previous_status,
                                                  'new_status', r.new_status)::text)) n;
