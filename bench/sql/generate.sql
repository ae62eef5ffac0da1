-- Builds one benchmark data set in the current database: the seed's schema
-- (demo/seed-schema.sql, loaded before this file) filled with :rows runs, of
-- which :stuck are stuck (PENDING/PROCESSING, last activity 1 hour to 90 days
-- ago, spread over the whole table) and :live are active and alive (newest
-- rows, activity within the last minutes). Everything else is COMPLETED or
-- FAILED. Rows are in createdAt order, as an app appends them.
--
-- psql variables: rows, stuck, live.
\set ON_ERROR_STOP on
SET maintenance_work_mem = '1GB';
SET synchronous_commit = off;

-- Bulk load without per-row FK checks and index maintenance; the same
-- constraints are put back afterwards, so the schema ends as the seed's.
ALTER TABLE prospects DROP CONSTRAINT "prospects_runId_fkey";
ALTER TABLE qualification_runs DROP CONSTRAINT "qualification_runs_icpId_fkey";
ALTER TABLE qualification_runs DROP CONSTRAINT qualification_runs_pkey;

INSERT INTO "Company" (id, name, domain)
SELECT 'co' || i, 'Company ' || i, 'company' || i || '.example' FROM generate_series(1, 100) i;
INSERT INTO "ICP" (id, title, "companyId")
SELECT 'icp' || i, 'ICP ' || i, 'co' || (i % 100 + 1) FROM generate_series(1, 1000) i;

CREATE SCHEMA bench;

-- g(i): i-th run; old runs (i <= rows - live) spread from 90 days to 1 hour
-- ago; the last :live runs are alive.
INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed,
                                "createdAt", "updatedAt", "completedAt")
SELECT 'c' || substr(md5(i::text), 1, 24),
       'icp' || (i % 1000 + 1),
       s.status::"RunStatus",
       10, i % 11,
       c.created,
       CASE WHEN s.status = 'PENDING' THEN NULL
            WHEN s.kind = 'live' THEN g.now - interval '10 seconds'
            ELSE c.created + (i % 900) * interval '1 second' END,
       CASE WHEN s.kind = 'done' THEN c.created + (i % 900) * interval '1 second' END
FROM (SELECT now() AT TIME ZONE 'UTC' AS now,
             (:rows - :live) / :stuck AS stride) g,
     generate_series(1, :rows) i,
     LATERAL (SELECT CASE WHEN i > :rows - :live THEN 'live'
                          WHEN i % g.stride = 0 AND i / g.stride <= :stuck THEN 'stuck'
                          ELSE 'done' END AS kind) k,
     LATERAL (SELECT k.kind,
                     CASE k.kind WHEN 'done' THEN CASE WHEN i % 20 = 0 THEN 'FAILED' ELSE 'COMPLETED' END
                                 ELSE CASE WHEN i % 5 = 0 THEN 'PENDING' ELSE 'PROCESSING' END END
                     AS status) s,
     LATERAL (SELECT CASE WHEN k.kind = 'live'
                          THEN g.now - (:rows - i) * interval '50 milliseconds' - interval '20 seconds'
                          ELSE g.now - interval '1 hour'
                               - (:rows - :live - i) * (interval '90 days' / (:rows - :live)) END
                     AS created) c;

ALTER TABLE qualification_runs ADD CONSTRAINT qualification_runs_pkey PRIMARY KEY (id);
ALTER TABLE qualification_runs ADD CONSTRAINT "qualification_runs_icpId_fkey"
    FOREIGN KEY ("icpId") REFERENCES "ICP"(id);
ALTER TABLE prospects ADD CONSTRAINT "prospects_runId_fkey"
    FOREIGN KEY ("runId") REFERENCES qualification_runs(id);

-- The index recovery's predicate uses: status = ANY(active) AND
-- GREATEST("createdAt", "updatedAt") < cutoff (see src/core/run_table.cpp).
CREATE INDEX qualification_runs_stuck_idx ON qualification_runs ((GREATEST("createdAt", "updatedAt")))
    WHERE status IN ('PENDING', 'PROCESSING');

-- What bench.prepare() puts back before each scenario.
CREATE TABLE bench.stuck_runs AS
SELECT id, status, "updatedAt" FROM qualification_runs
WHERE status IN ('PENDING', 'PROCESSING')
  AND GREATEST("createdAt", "updatedAt") < (now() AT TIME ZONE 'UTC') - interval '30 minutes';
ALTER TABLE bench.stuck_runs ADD PRIMARY KEY (id);
CREATE TABLE bench.live_runs AS
SELECT id, status, (now() AT TIME ZONE 'UTC') - "createdAt" AS age FROM qualification_runs
WHERE status IN ('PENDING', 'PROCESSING')
  AND GREATEST("createdAt", "updatedAt") >= (now() AT TIME ZONE 'UTC') - interval '30 minutes';
ALTER TABLE bench.live_runs ADD PRIMARY KEY (id);

CREATE EXTENSION IF NOT EXISTS recovery;
SELECT recovery.watch('qualification_runs') \g /dev/null
-- The hand-written recovery's history table: recovery.history's twin.
CREATE TABLE bench.history (LIKE recovery.history INCLUDING ALL);
-- The minimal statement's history (bench/sql/recover_min.sql): the same
-- columns with a primary key only; and, for what each index costs, the same
-- with one more index each (scenario B's "… history +" rows).
CREATE TABLE bench.history_min (LIKE recovery.history INCLUDING DEFAULTS);
ALTER TABLE bench.history_min ADD PRIMARY KEY (id);
CREATE TABLE bench.history_recovered_btree (LIKE bench.history_min INCLUDING ALL);
CREATE INDEX ON bench.history_recovered_btree (recovered_at);
CREATE TABLE bench.history_recovered_brin (LIKE bench.history_min INCLUDING ALL);
CREATE INDEX ON bench.history_recovered_brin USING brin (recovered_at) WITH (autosummarize = on);
CREATE TABLE bench.history_run_btree (LIKE bench.history_min INCLUDING ALL);
CREATE INDEX ON bench.history_run_btree (run_table, run_id);
CREATE TABLE bench.history_run_hash (LIKE bench.history_min INCLUDING ALL);
CREATE INDEX ON bench.history_run_hash USING hash (run_id);
CREATE TABLE bench.history_table_btree (LIKE bench.history_min INCLUDING ALL);
CREATE INDEX ON bench.history_table_btree (run_table_oid, recovered_at) WHERE undo_of IS NULL;
-- recovery.history's indexes before issue 12 point 5 (three b-trees).
CREATE TABLE bench.history_btrees (LIKE bench.history_min INCLUDING ALL);
CREATE INDEX ON bench.history_btrees (recovered_at);
CREATE INDEX ON bench.history_btrees (run_table, run_id);
CREATE INDEX ON bench.history_btrees (run_table_oid, recovered_at) WHERE undo_of IS NULL;
VACUUM (ANALYZE) qualification_runs;

-- Puts the data set back as generated, before each scenario: stuck runs
-- active again (they may have been recovered for real), live runs refreshed
-- so their last activity stays minutes old however long the benchmark runs,
-- history emptied. Returns how many runs are stuck and live now.
CREATE FUNCTION bench.prepare(OUT stuck bigint, OUT live bigint)
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE public.qualification_runs q
  SET status = s.status, "updatedAt" = s."updatedAt", "completedAt" = NULL
  FROM bench.stuck_runs s
  WHERE q.id = s.id
    AND (q.status <> s.status OR q."completedAt" IS NOT NULL
         OR q."updatedAt" IS DISTINCT FROM s."updatedAt");
  UPDATE public.qualification_runs q
  SET status = l.status, "createdAt" = (now() AT TIME ZONE 'UTC') - l.age,
      "updatedAt" = CASE WHEN l.status = 'PROCESSING'
                         THEN (now() AT TIME ZONE 'UTC') - interval '10 seconds' END,
      "completedAt" = NULL
  FROM bench.live_runs l
  WHERE q.id = l.id;
  TRUNCATE recovery.history, bench.history, bench.history_min, bench.history_recovered_btree,
           bench.history_recovered_brin, bench.history_run_btree, bench.history_run_hash,
           bench.history_table_btree, bench.history_btrees;
  SELECT count(*) FILTER (WHERE GREATEST(q."createdAt", q."updatedAt")
                                < (now() AT TIME ZONE 'UTC') - interval '30 minutes'),
         count(*) FILTER (WHERE GREATEST(q."createdAt", q."updatedAt")
                                >= (now() AT TIME ZONE 'UTC') - interval '30 minutes')
  INTO stuck, live
  FROM public.qualification_runs q
  WHERE q.status IN ('PENDING', 'PROCESSING');
END
$$;

-- Stuck runs now, as recovery defines them.
CREATE FUNCTION bench.stuck_count() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM public.qualification_runs q
  WHERE q.status IN ('PENDING', 'PROCESSING')
    AND GREATEST(q."createdAt", q."updatedAt") < (now() AT TIME ZONE 'UTC') - interval '30 minutes'
$$;
