-- Worker status, wake-up, history pruning and the pg_cron helpers' errors.
-- (The test cluster preloads recovery with recovery.enabled = off: since
-- CREATE EXTENSION in 01_install, the launcher runs a paused worker here.)
SELECT database = current_database() AS here, pid IS NOT NULL AS has_pid,
       state IN ('starting', 'disabled') AS state_ok
FROM recovery.worker_status();
SELECT recovery.run_worker_now() AS woken;
SELECT recovery.run_worker_now('no_such_database') AS woken;
SELECT * FROM test.try($$SELECT recovery.run_worker_now(NULL)$$);

-- prune_history: by age; bad ages are errors.
SELECT count(*) > 0 AS has_history FROM recovery.history;
SELECT recovery.prune_history('1 day') AS pruned_recent;
SELECT * FROM test.try($$SELECT recovery.prune_history(NULL)$$);
SELECT * FROM test.try($$SELECT recovery.prune_history('-1 day')$$);
SELECT recovery.prune_history('1 microsecond') AS deleted;
SELECT count(*) AS history_left FROM recovery.history;

-- Administrative functions are not for every role.
CREATE ROLE recovery_plain;
SET ROLE recovery_plain;
SELECT * FROM test.try($$SELECT recovery.run_worker_now()$$);
SELECT * FROM test.try($$SELECT recovery.prune_history('1 day')$$);
SELECT count(*) >= 0 AS can_read_status FROM recovery.worker_status();
RESET ROLE;
DROP ROLE recovery_plain;

-- pg_cron is not installed here: a clear error and a hint.
SELECT * FROM test.try($$SELECT recovery.schedule()$$);
SELECT * FROM test.try($$SELECT recovery.unschedule()$$);
