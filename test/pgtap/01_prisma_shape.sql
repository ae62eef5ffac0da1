-- The seed's Prisma schema: a 45-minute-old PROCESSING run with 3/10 progress
-- is found, reported as stuck for 45 minutes and recovered to FAILED with
-- completedAt set; live, finished and child rows are untouched.
BEGIN;
SELECT plan(12);

\i demo/seed-schema.sql
INSERT INTO "Company" VALUES ('c1', 'Stripe', 'stripe.com');
INSERT INTO "ICP" VALUES ('icp1', 'E-commerce SaaS Companies', 'c1');
INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt")
VALUES ('cmgz47wkm0005on6t8hxo4b9a', 'icp1', 'PROCESSING', 10, 3,
        (now() AT TIME ZONE 'UTC') - interval '45 minutes 20 seconds', NULL),
       ('cmgz_alive', 'icp1', 'PROCESSING', 10, 6,
        (now() AT TIME ZONE 'UTC') - interval '3 hours', (now() AT TIME ZONE 'UTC') - interval '1 minute'),
       ('cmgz_done', 'icp1', 'COMPLETED', 10, 10,
        (now() AT TIME ZONE 'UTC') - interval '5 hours', NULL);
INSERT INTO prospects VALUES ('p1', 'cmgz47wkm0005on6t8hxo4b9a', 'a.example', 80);

SELECT ok(recovery.watch('qualification_runs'), 'watch registers the Prisma table');

SELECT results_eq(
    $$SELECT run_id, status, stuck_minutes, reason FROM recovery.find_stuck_runs('30 minutes')$$,
    $$VALUES ('cmgz47wkm0005on6t8hxo4b9a'::text, 'PROCESSING'::text, 45, 'timeout'::text)$$,
    'only the 45-minute-old run is stuck, for 45 minutes');

SELECT is((SELECT (run->>'completed')::int || '/' || (run->>'totalProspects')
           FROM recovery.find_stuck_runs('30 minutes')), '3/10', 'the run row carries its progress');

SELECT is((SELECT status::text FROM qualification_runs WHERE id = 'cmgz47wkm0005on6t8hxo4b9a'),
          'PROCESSING', 'find changes nothing');

SELECT results_eq(
    $$SELECT run_id, previous_status, new_status FROM recovery.recover_stuck_runs('30 minutes')$$,
    $$VALUES ('cmgz47wkm0005on6t8hxo4b9a'::text, 'PROCESSING'::text, 'FAILED'::text)$$,
    'recover fails exactly the stuck run');

SELECT is((SELECT status::text FROM qualification_runs WHERE id = 'cmgz47wkm0005on6t8hxo4b9a'),
          'FAILED', 'the stuck run is FAILED');
SELECT isnt((SELECT "completedAt" FROM qualification_runs WHERE id = 'cmgz47wkm0005on6t8hxo4b9a'),
            NULL, 'and has completedAt set');
SELECT is((SELECT completed FROM qualification_runs WHERE id = 'cmgz47wkm0005on6t8hxo4b9a'),
          3, 'its progress is kept');
SELECT is((SELECT status::text FROM qualification_runs WHERE id = 'cmgz_alive'),
          'PROCESSING', 'a run created long ago but active a minute ago is untouched');
SELECT is((SELECT status::text || coalesce("completedAt"::text, 'null') FROM qualification_runs WHERE id = 'cmgz_done'),
          'COMPLETEDnull', 'a COMPLETED run is untouched');
SELECT is((SELECT count(*)::int FROM prospects), 1, 'saved prospects stay saved');
SELECT is((SELECT count(*)::int FROM recovery.history WHERE run_id = 'cmgz47wkm0005on6t8hxo4b9a'),
          1, 'one history row');

SELECT * FROM finish();
ROLLBACK;
