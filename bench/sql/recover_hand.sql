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
            to_jsonb(t) || jsonb_build_object(
              'createdAt', to_char(t."createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'updatedAt', to_char(t."updatedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'completedAt', to_char(t."completedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS run,
            s.previous_values
), history AS (
  INSERT INTO bench.history (run_table, run_id, previous_status, new_status, started_at,
                             last_activity_at, stuck_minutes, reason, action, previous_values,
                             recovered_by, application_name, run_table_oid)
  SELECT 'public.qualification_runs', run_id, previous_status, new_status, started_at,
         last_activity_at, stuck_minutes, 'timeout', 'fail', previous_values,
         current_user, current_setting('application_name'), 'public.qualification_runs'::regclass::oid
  FROM recovered
)
SELECT 'public.qualification_runs'::text AS run_table, r.run_id, r.previous_status, r.new_status,
       r.started_at, r.stuck_minutes, 'timeout'::text AS reason, now() AS recovered_at, r.run,
       'fail'::text AS action
FROM recovered r
CROSS JOIN LATERAL (
  SELECT pg_notify('recovery', jsonb_build_object('run_table', 'public.qualification_runs',
                                                  'run_id', r.run_id,
                                                  'previous_status', r.previous_status,
                                                  'new_status', r.new_status)::text)) n;
