SELECT 'public.qualification_runs'::text AS run_table, t.id AS run_id, t.status::text AS status,
       t."createdAt" AT TIME ZONE 'UTC' AS started_at,
       GREATEST(t."createdAt", t."updatedAt") AT TIME ZONE 'UTC' AS last_activity_at,
       floor(extract(epoch FROM (now() AT TIME ZONE 'UTC') - GREATEST(t."createdAt", t."updatedAt")) / 60)::int AS stuck_minutes,
       'timeout'::text AS reason,
       -- the extension's run jsonb: timestamps as UTC instants ending in Z
       to_jsonb(t) || jsonb_build_object(
         'createdAt', to_char(t."createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'updatedAt', to_char(t."updatedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'completedAt', to_char(t."completedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS run,
       'fail'::text AS action
FROM qualification_runs t
WHERE t.status IN ('PENDING', 'PROCESSING')
  AND GREATEST(t."createdAt", t."updatedAt") < (now() AT TIME ZONE 'UTC') - interval '30 minutes'
ORDER BY GREATEST(t."createdAt", t."updatedAt"), t.id;
