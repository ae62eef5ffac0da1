-- Sample runs to look at the app with (the seed's): two stuck (a PROCESSING
-- run idle for 45 minutes, a PENDING one for 2 hours), one alive, one done.
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f prisma/demo-data.sql
-- Times are UTC, as Prisma writes timestamp(3). Replaces the tables' rows.
BEGIN;
TRUNCATE prospects, qualification_runs, "ICP", "Company" CASCADE;
INSERT INTO "Company" VALUES ('c1', 'Stripe', 'stripe.com');
INSERT INTO "ICP" VALUES ('icp1', 'E-commerce SaaS Companies', 'c1');
INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt", "completedAt")
SELECT id, 'icp1', status::"RunStatus", total, done,
       (now() AT TIME ZONE 'UTC') - make_interval(mins => created_ago),
       (now() AT TIME ZONE 'UTC') - make_interval(mins => updated_ago),
       CASE WHEN status = 'COMPLETED' THEN (now() AT TIME ZONE 'UTC') - make_interval(mins => updated_ago) END
FROM (VALUES ('cmgz47wkm0005on6t8hxo4b9a', 'PROCESSING', 10, 3, 45, 45),
             ('cmgz4a1bc0007on6tq2lz8d1e', 'PENDING', 5, 0, 120, NULL),
             ('cmgz4c9xy0009on6t5r7k3m2p', 'PROCESSING', 10, 6, 180, 1),
             ('cmgz3z0aa0001on6tb8n4v6w1', 'COMPLETED', 10, 10, 300, 240))
     AS r(id, status, total, done, created_ago, updated_ago);
COMMIT;
