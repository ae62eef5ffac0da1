-- One call of a recoverer (the SQL API in a tight loop, next to the worker):
-- A at '3 seconds' (all runs, max_runs 3, the JSON report, inside a longer
-- transaction, rolled back), every table at '1 minute' (B's effective 5 s,
-- racing the worker), find_stuck_runs, and waking the worker.
\set roll random(1, 100)
\if :roll <= 45
SELECT count(*) FROM recovery.recover_stuck_runs('3 seconds', NULL, 'qualification_runs');
\elif :roll <= 60
SELECT count(*) FROM recovery.recover_stuck_runs('3 seconds', 3, 'qualification_runs');
\elif :roll <= 68
SELECT recovery.recover_stuck_runs_report('3 seconds', NULL, 'qualification_runs') ->> 'recovered';
\elif :roll <= 73
BEGIN;
SELECT count(*) FROM recovery.recover_stuck_runs('3 seconds', 2, 'qualification_runs');
SELECT pg_sleep(0.05);
COMMIT;
\elif :roll <= 78
BEGIN;
SELECT count(*) FROM recovery.recover_stuck_runs('3 seconds', 2, 'qualification_runs');
ROLLBACK;
\elif :roll <= 90
SELECT count(*) FROM recovery.recover_stuck_runs('1 minute');
\elif :roll <= 98
SELECT count(*) FROM recovery.find_stuck_runs('3 seconds');
\else
SELECT recovery.run_worker_now();
\endif
