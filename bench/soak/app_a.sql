-- One step of the app on qualification_runs (table A), as one transaction:
-- create a run, bump a run's progress (sometimes saving a prospect, sometimes
-- holding the row lock a while), complete or fail it, or "die" on it (never
-- touch it again). Every write to a run goes with the app's own record of it
-- (soak.app_runs) in the same transaction. Writes to a run are guarded by its
-- status, as an app should: a run recovery failed meanwhile is "lost" to the app.
\set roll random(1, 100)
\set slow random(1, 100)
BEGIN;
SELECT count(*) AS nlive, coalesce((array_agg(n ORDER BY random()))[1], 0) AS rid
  FROM soak.app_runs WHERE client = :client_id AND tbl = 'A' AND state = 'live' \gset
\if :nlive < 3 or (:nlive < 6 and :roll <= 10)
SELECT nextval('soak.run_seq') AS newid \gset
WITH r AS (
  INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt")
  VALUES ('A' || :newid, 'icp1', 'PENDING', 1000, 0, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
  RETURNING completed, "updatedAt", status)
INSERT INTO soak.app_runs (n, tbl, client, state, progress, activity, status, changed_at)
SELECT :newid, 'A', :client_id, 'live', completed, "updatedAt" AT TIME ZONE 'UTC', status::text, clock_timestamp()
FROM r;
\elif :roll <= 80
\if :slow <= 15
INSERT INTO prospects (id, "runId", domain, score)
VALUES ('p' || nextval('soak.prospect_seq'), 'A' || :rid, 'prospect.test', :slow);
\endif
WITH u AS (
  UPDATE qualification_runs SET completed = completed + 1, status = 'PROCESSING',
         "updatedAt" = now() AT TIME ZONE 'UTC'
  WHERE id = 'A' || :rid AND status IN ('PENDING', 'PROCESSING')
  RETURNING completed, "updatedAt", status)
UPDATE soak.app_runs a
SET state = CASE WHEN u.status IS NULL THEN 'lost' ELSE 'live' END,
    progress = coalesce(u.completed, a.progress),
    activity = coalesce(u."updatedAt" AT TIME ZONE 'UTC', a.activity),
    status = coalesce(u.status::text, a.status),
    changed_at = clock_timestamp()
FROM (SELECT 1) AS one LEFT JOIN u ON true
WHERE a.n = :rid;
\if :slow > 96
SELECT pg_sleep(0.2);
\endif
\elif :roll <= 95
WITH u AS (
  UPDATE qualification_runs
  SET status = CASE WHEN :roll <= 88 THEN 'COMPLETED' ELSE 'FAILED' END::"RunStatus",
      "completedAt" = now() AT TIME ZONE 'UTC', "updatedAt" = now() AT TIME ZONE 'UTC'
  WHERE id = 'A' || :rid AND status IN ('PENDING', 'PROCESSING')
  RETURNING completed, "updatedAt", status, "completedAt")
UPDATE soak.app_runs a
SET state = CASE WHEN u.status IS NULL THEN 'lost' ELSE 'finished' END,
    activity = coalesce(u."updatedAt" AT TIME ZONE 'UTC', a.activity),
    status = coalesce(u.status::text, a.status),
    finished = u."completedAt" AT TIME ZONE 'UTC',
    changed_at = clock_timestamp()
FROM (SELECT 1) AS one LEFT JOIN u ON true
WHERE a.n = :rid;
\else
UPDATE soak.app_runs SET state = 'abandoned', changed_at = clock_timestamp() WHERE n = :rid;
\endif
COMMIT;
