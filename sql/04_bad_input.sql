-- Bad input gets a clear error and changes nothing.
INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
VALUES ('bad-input-run', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '3 hours');

SELECT * FROM test.try($$SELECT * FROM recovery.find_stuck_runs(NULL)$$);
SELECT * FROM test.try($$SELECT * FROM recovery.find_stuck_runs('0')$$);
SELECT * FROM test.try($$SELECT * FROM recovery.find_stuck_runs('-30 minutes')$$);
SELECT * FROM test.try($$SELECT * FROM recovery.find_stuck_runs('1 day -25 hours')$$);
SELECT * FROM test.try($$SELECT * FROM recovery.recover_stuck_runs(NULL)$$);
SELECT * FROM test.try($$SELECT * FROM recovery.recover_stuck_runs('-1 second')$$);
SELECT * FROM test.try($$SELECT * FROM recovery.recover_stuck_runs('30 minutes', 0)$$);
SELECT * FROM test.try($$SELECT * FROM recovery.recover_stuck_runs('30 minutes', -1)$$);
SELECT * FROM test.try($$SELECT * FROM recovery.recover_stuck_runs('300000 years')$$);
SELECT * FROM test.try($$SELECT * FROM recovery.recover_each_table(NULL)$$);
SELECT * FROM test.try($$SELECT * FROM recovery.recover_each_table('-1 second')$$);
SELECT * FROM test.try($$SELECT * FROM recovery.recover_each_table('30 minutes', 0)$$);
SELECT * FROM test.try($$SELECT * FROM recovery.recover_stuck_runs('30 minutes', NULL, 'no_pk')$$);
SELECT * FROM test.try($$SELECT recovery.recover_stuck_runs_report('0')$$);
SELECT * FROM test.try($$SELECT recovery.stuck_runs_report(NULL)$$);

-- A huge but valid timeout finds nothing.
SELECT count(*) FROM recovery.find_stuck_runs('100 years');

-- A role that may read but not update a table with stuck runs: 42501, nothing changes.
-- (It names the tables: a call that names none covers only tables whose
-- owner's privileges the caller has, and says how many it left out.)
CREATE ROLE recovery_reader;
GRANT SELECT ON qualification_runs, app_jobs TO recovery_reader;
SET ROLE recovery_reader;
SELECT count(*) AS visible FROM recovery.find_stuck_runs('30 minutes', 'qualification_runs');
SELECT count(*) AS covered FROM recovery.find_stuck_runs('30 minutes');
SELECT * FROM test.try($$SELECT * FROM recovery.recover_stuck_runs('30 minutes', run_table => 'qualification_runs')$$);
RESET ROLE;
-- Without SELECT: 42501, naming the table.
CREATE ROLE recovery_nobody;
SET ROLE recovery_nobody;
SELECT * FROM test.try($$SELECT * FROM recovery.find_stuck_runs('30 minutes', 'app_jobs')$$);
RESET ROLE;
-- Column-level UPDATE on exactly the written columns is enough.
GRANT UPDATE (status, "completedAt") ON qualification_runs TO recovery_reader;
SET ROLE recovery_reader;
SELECT run_id, new_status FROM recovery.recover_stuck_runs('30 minutes', run_table => 'qualification_runs');
RESET ROLE;
SELECT recovered_by FROM recovery.history WHERE run_id = 'bad-input-run';

-- A watched table whose column was renamed, and one that was dropped: a
-- WARNING names each, and the other tables are still handled.
INSERT INTO app_jobs (state, created_at) VALUES ('running', now() - interval '2 hours');
CREATE TABLE renamed_runs (id int PRIMARY KEY, status text, created_at timestamptz);
CREATE TABLE dropped_runs (id int PRIMARY KEY, status text, created_at timestamptz);
SELECT recovery.watch('renamed_runs', active_statuses => '{running}', failed_status => 'failed');
SELECT recovery.watch('dropped_runs', active_statuses => '{running}', failed_status => 'failed');
ALTER TABLE renamed_runs RENAME COLUMN created_at TO inserted_at;
SELECT 'dropped_runs'::regclass::oid AS dropped_oid \gset
DROP TABLE dropped_runs;
\set VERBOSITY terse
SELECT run_table, previous_status, new_status FROM recovery.recover_stuck_runs('30 minutes');
\set VERBOSITY default
SELECT recovery.unwatch(:dropped_oid) AS unwatched_by_oid;
SELECT recovery.unwatch('renamed_runs');

-- Clean up the cluster-wide roles.
DROP OWNED BY recovery_reader, recovery_nobody, recovery_stranger;
DROP ROLE recovery_reader, recovery_nobody, recovery_stranger;
