SELECT 'public.qualification_runs'::text AS run_table, t.id AS run_id, t.status::text AS status,
       t."createdAt" AT TIME ZONE 'UTC' AS started_at,
       GREATEST(t."createdAt", t."updatedAt") AT TIME ZONE 'UTC' AS last_activity_at,
       floor(extract(epoch FROM (now() AT TIME ZONE 'UTC') - GREATEST(t."createdAt", t."updatedAt")) / 60)::int AS stuck_minutes,
       'timeout'::text AS reason, to_jsonb(t) AS run, 'fail'::text AS action
FROM qualification_runs t
WHERE t.status IN ('PENDING', 'PROCESSING')
  AND GREATEST(t."createdAt", t."updatedAt") < (now() AT TIME ZONE 'UTC') - interval '30 minutes'
ORDER BY GREATEST(t."createdAt", t."updatedAt"), t.id;
