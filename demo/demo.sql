-- recovery demo: the seed's stuck runs, found and recovered inside PostgreSQL.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION recovery;
\i demo/seed-schema.sql

-- Prisma writes UTC wall-clock times into timestamp(3) columns.
INSERT INTO "Company" VALUES ('c1', 'Stripe', 'stripe.com');
INSERT INTO "ICP" VALUES ('icp1', 'E-commerce SaaS Companies', 'c1');
INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt", "completedAt")
SELECT id, 'icp1', status::"RunStatus", total, done,
       (now() AT TIME ZONE 'UTC') - created, (now() AT TIME ZONE 'UTC') - updated,
       CASE WHEN status IN ('COMPLETED', 'FAILED') THEN (now() AT TIME ZONE 'UTC') - updated END
FROM (VALUES
    ('cmgz47wkm0005on6t8hxo4b9a', 'PROCESSING', 10, 3, interval '45 minutes', interval '45 minutes'),
    ('cmgz4a1bc0007on6tq2lz8d1e', 'PENDING',     5, 0, interval '2 hours',    interval '2 hours'),
    ('cmgz4c9xy0009on6t5r7k3m2p', 'PROCESSING', 10, 6, interval '3 hours',    interval '1 minute'),
    ('cmgz3z0aa0001on6tb8n4v6w1', 'COMPLETED',  10, 10, interval '5 hours',   interval '4 hours')
) AS v(id, status, total, done, created, updated);
INSERT INTO prospects VALUES ('p1', 'cmgz47wkm0005on6t8hxo4b9a', 'shop.example', 87),
                             ('p2', 'cmgz47wkm0005on6t8hxo4b9a', 'store.example', 42);

\echo
\echo '== 1. Register the run table (columns are detected) =='
\echo 'SELECT recovery.watch(''qualification_runs'');'
SELECT recovery.watch('qualification_runs') AS newly_watched;
SELECT table_name, status_column, started_column, activity_column, finished_column, id_column
FROM recovery.watched_tables;

\echo '== 2. Check (the seed''s --check-only): nothing changes =='
\echo 'SELECT * FROM recovery.find_stuck_runs(''30 minutes'');'
SELECT run_id, status, stuck_minutes AS "stuck for (min)",
       run->>'completed' || '/' || (run->>'totalProspects') AS progress, started_at, reason
FROM recovery.find_stuck_runs('30 minutes');

\echo '== 3. The same as the seed''s API body, in one call =='
\echo 'SELECT recovery.stuck_runs_report(''30 minutes'');'
SELECT jsonb_pretty(recovery.stuck_runs_report('30 minutes')) AS "GET /api/qualify/recovery";

\echo '== 4. Recover: mark them FAILED, set completedAt, record history, NOTIFY =='
LISTEN recovery;
\echo 'SELECT * FROM recovery.recover_stuck_runs(''30 minutes'');'
SELECT run_id, previous_status || ' -> ' || new_status AS transition, stuck_minutes, reason
FROM recovery.recover_stuck_runs('30 minutes');

\echo '== 5. The table now: the live run (active a minute ago) and finished runs are untouched =='
SELECT id, status, completed || '/' || "totalProspects" AS progress, "completedAt" IS NOT NULL AS has_completed_at
FROM qualification_runs ORDER BY "createdAt";
SELECT count(*) AS prospects_kept FROM prospects;

\echo '== 6. The audit history =='
SELECT id, run_table, run_id, previous_status, new_status, stuck_minutes, reason, recovered_by, application_name
FROM recovery.history ORDER BY id;

\echo '== 7. Nothing left to recover =='
SELECT recovery.recover_stuck_runs_report('30 minutes') AS "POST /api/qualify/recovery";

\echo '== 8. Claims + the background worker: no timeout to wait for =='
\echo 'An app session claims a fresh run, then dies (here: psql exits). The worker'
\echo 'hears the session end and recovers the run in milliseconds, not 30 minutes.'
ALTER SYSTEM SET recovery.enabled = on;
SELECT pg_reload_conf(), pg_sleep(0.5) \g /dev/null
INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed)
VALUES ('cmgz5fresh0011on6tq9w2e4r', 'icp1', 'PROCESSING', 10, 1);
\! psql -X -q -c "SELECT recovery.claim('qualification_runs', 'cmgz5fresh0011on6tq9w2e4r')" >/dev/null
SELECT pg_sleep(0.5) \g /dev/null
SELECT run_id, previous_status || ' -> ' || new_status AS transition, reason, recovered_by, application_name
FROM recovery.history WHERE run_id = 'cmgz5fresh0011on6tq9w2e4r';
SELECT database, state, total_recovered FROM recovery.worker_status();
