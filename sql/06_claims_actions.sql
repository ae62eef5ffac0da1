-- Beyond timeouts: claims (owner_gone), max_runtime, completing finished
-- work, requeue with attempts, and undo.
CREATE TABLE jobs (
    id          integer PRIMARY KEY,
    status      text NOT NULL,
    done        integer,
    total       integer,
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz,
    finished_at timestamptz
);
SELECT recovery.watch('jobs', active_statuses => '{PENDING,PROCESSING}', failed_status => 'FAILED',
                      max_runtime => '6 hours');
INSERT INTO jobs (id, status, done, total, created_at) VALUES
    (1, 'PROCESSING', 3, 10, now() - interval '2 hours'),    -- claimed by this live session
    (2, 'PROCESSING', 3, 10, now() - interval '1 minute'),   -- claimed by a session gone since
    (3, 'PROCESSING', 3, 10, now() - interval '7 hours'),    -- claimed, alive, past max_runtime
    (4, 'COMPLETED', 10, 10, now() - interval '2 hours');

-- claim: true for an active run, false for a finished or unknown one.
SELECT recovery.claim('jobs', '1') AS c1, recovery.claim('jobs', '2') AS c2,
       recovery.claim('jobs', '003') AS c3_canonical, recovery.claim('jobs', '4') AS finished,
       recovery.claim('jobs', '99') AS unknown;
SELECT run_id, backend_pid = pg_backend_pid() AS mine, claimed_by = current_user AS by_me
FROM recovery.claims ORDER BY run_id;
SELECT * FROM test.try($$SELECT recovery.claim('jobs', 'x')$$);
SELECT * FROM test.try($$SELECT recovery.claim('jobs', NULL)$$);
SELECT * FROM test.try($$SELECT recovery.claim('no_pk', '1')$$);

-- backend_alive: this backend yes; a wrong start time or a dead pid no.
SELECT recovery.backend_alive(pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())) AS me,
       recovery.backend_alive(pg_backend_pid(), now() - interval '1 day') AS wrong_start,
       recovery.backend_alive(0, now()) AS no_such_pid;

-- A live claim is never stuck by the timeout (run 1 is 2 hours old), but a
-- table's max_runtime still applies (run 3); a claim whose backend is gone
-- (here: one made before the server started) is stuck at once (run 2).
UPDATE recovery.claims SET backend_start = pg_postmaster_start_time() - interval '1 second' WHERE run_id = '2';
SELECT run_id, status, reason, action FROM recovery.find_stuck_runs('30 minutes') ORDER BY run_id;
SELECT run_id, status, reason, action FROM recovery.find_stuck_runs('1 hour') ORDER BY run_id;
SELECT run_id, previous_status, new_status, reason, action FROM recovery.recover_stuck_runs('30 minutes') ORDER BY run_id;
-- Recovered runs' claims are over; run 1 stays claimed.
SELECT run_id FROM recovery.claims ORDER BY run_id;
SELECT recovery.release('jobs', '1') AS released, recovery.release('jobs', '1') AS again;
-- Released, run 1 falls under the timeout again.
SELECT run_id, reason FROM recovery.find_stuck_runs('30 minutes');

-- Finished work is completed, not failed; requeue counts attempts.
TRUNCATE jobs;
SELECT recovery.watch('jobs', active_statuses => '{PENDING,PROCESSING}', failed_status => 'FAILED',
                      progress_column => 'done', total_column => 'total', completed_status => 'COMPLETED',
                      on_stuck => 'requeue', attempts_column => 'attempts', max_attempts => 2,
                      activity_column => 'updated_at');
INSERT INTO jobs (id, status, done, total, attempts, created_at, updated_at) VALUES
    (10, 'PROCESSING', 10, 10, 0, now() - interval '2 hours', now() - interval '2 hours'),
    (11, 'PROCESSING', 3, 10, 0, now() - interval '2 hours', now() - interval '2 hours'),
    (12, 'PROCESSING', 0, 0, 1, now() - interval '2 hours', now() - interval '2 hours');
SELECT run_id, reason, action FROM recovery.find_stuck_runs('30 minutes') ORDER BY run_id;
SELECT run_id, previous_status, new_status, reason, action FROM recovery.recover_stuck_runs('30 minutes') ORDER BY run_id;
SELECT id, status, attempts, finished_at IS NOT NULL AS finished, updated_at > now() - interval '1 minute' AS touched
FROM jobs ORDER BY id;
-- The requeued run goes stuck again: its second attempt is the last.
UPDATE jobs SET status = 'PROCESSING', updated_at = now() - interval '2 hours' WHERE id = 11;
SELECT run_id, previous_status, new_status, reason, action FROM recovery.recover_stuck_runs('30 minutes');
SELECT id, status, attempts FROM jobs WHERE id = 11;

-- undo: back as it was; only the latest recovery of an unchanged run.
-- (History ids in messages are masked: they depend on the files before.)
SELECT id AS complete_id FROM recovery.history WHERE run_id = '10' \gset
SELECT id AS fail_11 FROM recovery.history WHERE run_id = '11' AND action = 'fail' \gset
SELECT id AS requeue_11 FROM recovery.history WHERE run_id = '11' AND action = 'requeue' \gset
SELECT recovery.undo(:complete_id) AS undone;
SELECT id, status, attempts, finished_at IS NULL AS finished_cleared FROM jobs WHERE id = 10;
SELECT run_id, previous_status, new_status, reason, action, undo_of = :complete_id AS links
FROM recovery.history WHERE action = 'undo';
SELECT code, regexp_replace(message, '[0-9]+', 'N', 'g') AS message, hint FROM test.try(format('SELECT recovery.undo(%s)', :complete_id));
SELECT code, regexp_replace(message, '[0-9]+', 'N', 'g') AS message, hint FROM test.try(format('SELECT recovery.undo(%s)', :requeue_11));
UPDATE jobs SET status = 'COMPLETED' WHERE id = 11;
SELECT code, regexp_replace(message, '[0-9]+', 'N', 'g') AS message, hint FROM test.try(format('SELECT recovery.undo(%s)', :fail_11));
SELECT id, status, attempts FROM jobs WHERE id = 11;
SELECT code, regexp_replace(message, '[0-9]+', 'N', 'g') AS message, hint FROM test.try($$SELECT recovery.undo(999999)$$);
SELECT code, regexp_replace(message, '[0-9]+', 'N', 'g') AS message, hint FROM test.try($$SELECT recovery.undo(NULL)$$);
SELECT code, regexp_replace(message, '[0-9]+', 'N', 'g') AS message, hint FROM test.try(format('SELECT recovery.undo(%s)', (SELECT max(id) FROM recovery.history)));

-- A role that may not update the table may neither claim nor undo.
CREATE ROLE recovery_outsider;
GRANT SELECT ON jobs TO recovery_outsider;
SET ROLE recovery_outsider;
SELECT * FROM test.try($$SELECT recovery.claim('jobs', '12')$$);
SELECT * FROM test.try($$SELECT recovery.release('jobs', '12')$$);
SELECT code, regexp_replace(message, '[0-9]+', 'N', 'g') AS message, hint FROM test.try(format('SELECT recovery.undo(%s)', (SELECT id FROM recovery.history WHERE run_id = '12')));
RESET ROLE;
DROP OWNED BY recovery_outsider;
DROP ROLE recovery_outsider;

-- Option errors: clear, and nothing registered differently.
SELECT * FROM test.try($$SELECT recovery.watch('jobs', progress_column => 'done')$$);
SELECT * FROM test.try($$SELECT recovery.watch('jobs', progress_column => 'done', total_column => 'status')$$);
SELECT * FROM test.try($$SELECT recovery.watch('jobs', progress_column => 'done', total_column => 'total', completed_status => 'PENDING')$$);
SELECT * FROM test.try($$SELECT recovery.watch('jobs', on_stuck => 'retry')$$);
SELECT * FROM test.try($$SELECT recovery.watch('jobs', on_stuck => 'requeue')$$);
SELECT * FROM test.try($$SELECT recovery.watch('jobs', on_stuck => 'requeue', attempts_column => 'attempts')$$);
SELECT * FROM test.try($$SELECT recovery.watch('jobs', on_stuck => 'requeue', attempts_column => 'attempts', max_attempts => 0)$$);
SELECT * FROM test.try($$SELECT recovery.watch('jobs', on_stuck => 'requeue', attempts_column => 'created_at', max_attempts => 3)$$);
SELECT * FROM test.try($$SELECT recovery.watch('jobs', on_stuck => 'requeue', attempts_column => 'attempts', max_attempts => 3, requeue_status => 'FAILED')$$);
SELECT * FROM test.try($$SELECT recovery.watch('jobs', max_runtime => '-1 hour')$$);
SELECT on_stuck, max_attempts, progress_column, total_column FROM recovery.watched_tables WHERE table_name = 'public.jobs';
SELECT recovery.unwatch('jobs');
