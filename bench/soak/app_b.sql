-- One step of the app on app_jobs (table B); see app_a.sql. This app writes
-- its times 55 s in the past (the worker's 1-minute timeout is then 5 s of
-- real idleness) and fails jobs with its own status 'error'.
\set roll random(1, 100)
\set slow random(1, 100)
BEGIN;
SELECT count(*) AS nlive, coalesce((array_agg(n ORDER BY random()))[1], 0) AS rid
  FROM soak.app_runs WHERE client = :client_id AND tbl = 'B' AND state = 'live' \gset
\if :nlive < 3 or (:nlive < 6 and :roll <= 10)
SELECT nextval('soak.run_seq') AS newid \gset
WITH r AS (
  INSERT INTO app_jobs (job_id, state, progress, created_at, heartbeat_at)
  VALUES (:newid, 'queued', 0, now() - interval '55 seconds', now() - interval '55 seconds')
  RETURNING progress, heartbeat_at, state)
INSERT INTO soak.app_runs (n, tbl, client, state, progress, activity, status, changed_at)
SELECT :newid, 'B', :client_id, 'live', progress, heartbeat_at, state, clock_timestamp()
FROM r;
\elif :roll <= 80
WITH u AS (
  UPDATE app_jobs SET progress = progress + 1, state = 'running',
         heartbeat_at = now() - interval '55 seconds'
  WHERE job_id = :rid AND state IN ('queued', 'running')
  RETURNING progress, heartbeat_at, state)
UPDATE soak.app_runs a
SET state = CASE WHEN u.state IS NULL THEN 'lost' ELSE 'live' END,
    progress = coalesce(u.progress, a.progress),
    activity = coalesce(u.heartbeat_at, a.activity),
    status = coalesce(u.state, a.status),
    changed_at = clock_timestamp()
FROM (SELECT 1) AS one LEFT JOIN u ON true
WHERE a.n = :rid;
\if :slow > 96
SELECT pg_sleep(0.2);
\endif
\elif :roll <= 95
\set final random(1, 4)
WITH u AS (
  UPDATE app_jobs SET state = CASE WHEN :final = 1 THEN 'error' ELSE 'done' END,
         finished_at = now() - interval '55 seconds', heartbeat_at = now() - interval '55 seconds'
  WHERE job_id = :rid AND state IN ('queued', 'running')
  RETURNING heartbeat_at, state, finished_at)
UPDATE soak.app_runs a
SET state = CASE WHEN u.state IS NULL THEN 'lost' ELSE 'finished' END,
    activity = coalesce(u.heartbeat_at, a.activity),
    status = coalesce(u.state, a.status),
    finished = u.finished_at,
    changed_at = clock_timestamp()
FROM (SELECT 1) AS one LEFT JOIN u ON true
WHERE a.n = :rid;
\else
UPDATE soak.app_runs SET state = 'abandoned', changed_at = clock_timestamp() WHERE n = :rid;
\endif
COMMIT;
