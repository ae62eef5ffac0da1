-- Concurrency, with real concurrent sessions opened through dblink:
--   * a stuck run locked FOR UPDATE by another live session is skipped by
--     recover_stuck_runs (not waited for, not changed) and recovered once the
--     lock is gone;
--   * a run another session completed (or touched) after detection is not
--     overwritten, whether that session committed before the UPDATE or was
--     still holding the row when recovery ran;
--   * two recoverers at once recover each run once;
--   * NOTIFY recovery is delivered at commit, one per run, and never for a
--     rolled-back recovery.
--
-- Why this file does not run in one BEGIN ... ROLLBACK: dblink sessions are
-- other backends and cannot see uncommitted data, so the run table, its rows
-- and its registration are committed. pgTAP keeps its counters in temp
-- tables of this session, so this session runs in autocommit and never rolls
-- back; the transactions under test are opened in the dblink sessions
-- ("app", "rec", "rec2", "listener"). Everything lives in schema pgtap04 and
-- is removed at the end (and at the start, should an earlier run have
-- stopped half-way). The runs are "stuck" for a 1 minute timeout only (idle
-- 3 to 5 minutes), so a recoverer using a realistic timeout elsewhere on the
-- server would never touch them.
SET client_min_messages = warning;
SELECT recovery.unwatch(run_table::oid::regclass) FROM recovery.watched_tables WHERE table_name LIKE 'pgtap04.%';
DELETE FROM recovery.history WHERE run_table LIKE 'pgtap04.%';
DROP SCHEMA IF EXISTS pgtap04 CASCADE;
CREATE SCHEMA pgtap04;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'dblink') THEN
        CREATE EXTENSION dblink SCHEMA pgtap04;
    END IF;
END
$$;
SELECT set_config('search_path',
                  (SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                   WHERE e.extname = 'dblink') || ', pgtap04, public', false) IS NOT NULL AS path_set \gset
RESET client_min_messages;

SELECT plan(48);

CREATE TABLE pgtap04.runs (
    id          integer PRIMARY KEY,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz,
    finished_at timestamptz
);
CREATE TABLE pgtap04.items (id serial PRIMARY KEY, run_id integer NOT NULL REFERENCES pgtap04.runs (id));

-- Three stuck runs (idle 5, 4 and 3 minutes) and a live one.
CREATE FUNCTION pgtap04.reset() RETURNS void LANGUAGE sql AS $$
    DELETE FROM pgtap04.items;
    DELETE FROM pgtap04.runs;
    INSERT INTO pgtap04.runs (id, status, created_at, updated_at) VALUES
        (1, 'processing', now() - interval '5 minutes', NULL),
        (2, 'processing', now() - interval '6 minutes', now() - interval '4 minutes'),
        (3, 'pending',    now() - interval '3 minutes', NULL),
        (4, 'processing', now() - interval '9 minutes', now());
    DELETE FROM recovery.history WHERE run_table = 'pgtap04.runs';
$$;

-- Remote calls never raise here: a query returns its single text column as
-- a sorted, comma-separated list ('' for no rows), a command its status, and
-- an error is returned as 'ERROR <sqlstate>'.
CREATE FUNCTION pgtap04.q(conn text, sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    SELECT string_agg(v, ',' ORDER BY v) INTO result FROM dblink(conn, sql) AS t(v text);
    RETURN coalesce(result, '');
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE;
END
$$;
CREATE FUNCTION pgtap04.x(conn text, sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN dblink_exec(conn, sql);
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE;
END
$$;
-- The notifications a connection has received so far (payload run ids),
-- waiting up to `patience` for at least `want` of them.
CREATE FUNCTION pgtap04.notified(conn text, want integer, patience interval) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + patience;
    got text[] := '{}';
    n record;
BEGIN
    LOOP
        FOR n IN SELECT * FROM dblink_get_notify(conn) LOOP
            IF n.notify_name = 'recovery' THEN
                got := got || ((n.extra::jsonb->>'run_table') || '#' || (n.extra::jsonb->>'run_id') || ':' ||
                               (n.extra::jsonb->>'previous_status') || '>' || (n.extra::jsonb->>'new_status'));
            END IF;
        END LOOP;
        EXIT WHEN cardinality(got) >= want OR clock_timestamp() > deadline;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN coalesce((SELECT string_agg(g, ',' ORDER BY g) FROM unnest(got) AS g), '');
END
$$;

SELECT pgtap04.reset();

-- The sessions: an app, two recoverers (that never wait more than 500 ms for
-- a lock: waiting would show as ERROR 55P03), and a listener.
SELECT format('host=%s port=%s dbname=%s user=%s',
              split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database(), current_user) AS conninfo \gset
SELECT is(dblink_connect('pgtap04_app', :'conninfo' || ' application_name=pgtap04-app'), 'OK',
          'an app session is connected');
SELECT is(dblink_connect('pgtap04_rec', :'conninfo' || ' application_name=pgtap04-rec'), 'OK',
          'a recoverer session is connected');
SELECT is(dblink_connect('pgtap04_rec2', :'conninfo' || ' application_name=pgtap04-rec2'), 'OK',
          'a second recoverer session is connected');
SELECT is(dblink_connect('pgtap04_listener', :'conninfo' || ' application_name=pgtap04-listener'), 'OK',
          'a listener session is connected');
SELECT pgtap04.x('pgtap04_rec', $$SET lock_timeout = '500ms'$$), pgtap04.x('pgtap04_rec2', $$SET lock_timeout = '500ms'$$),
       pgtap04.x('pgtap04_rec', 'SET search_path = pg_catalog, pgtap04'),
       pgtap04.x('pgtap04_rec2', 'SET search_path = pg_catalog, pgtap04'),
       pgtap04.x('pgtap04_listener', 'LISTEN recovery') \gset

SELECT is(recovery.watch('pgtap04.runs', active_statuses => '{pending,processing}', failed_status => 'failed'), true,
          'the run table is watched (committed, so the other sessions see it)');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.find_stuck_runs('1 minute', 'pgtap04.runs')$$),
          '1,2,3', 'the recoverer sees the three stuck runs');

------------------------------------------------------------------------------
-- 1. A stuck run locked by a live session is skipped, then recovered.
------------------------------------------------------------------------------
SELECT is(pgtap04.x('pgtap04_app', 'BEGIN'), 'BEGIN', 'lock: the app begins');
SELECT is(pgtap04.q('pgtap04_app', 'SELECT id::text FROM pgtap04.runs WHERE id = 1 FOR UPDATE'), '1',
          'lock: the app holds run 1 FOR UPDATE');
SELECT pgtap04.x('pgtap04_rec', 'BEGIN') AS began \gset
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', NULL, 'pgtap04.runs')$$),
          '2,3', 'lock: recover skips the locked run without waiting (no lock timeout) and recovers the others');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT status FROM pgtap04.runs WHERE id = 1$$), 'processing',
          'lock: the locked run is unchanged');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.history WHERE run_table = 'pgtap04.runs'$$), '2,3',
          'lock: no history row for the skipped run');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', 1, 'pgtap04.runs')$$), '',
          'lock: with max_runs, the locked run is still skipped, and nothing else is left');
SELECT is(pgtap04.x('pgtap04_app', 'ROLLBACK'), 'ROLLBACK', 'lock: the app ends its transaction, releasing the lock');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', NULL, 'pgtap04.runs')$$),
          '1', 'lock: once the lock is gone, the run is recovered');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id || ':' || application_name FROM recovery.history WHERE run_table = 'pgtap04.runs'$$),
          '1:pgtap04-rec,2:pgtap04-rec,3:pgtap04-rec', 'lock: one history row per run, naming the recovering client');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT string_agg(id || '=' || status, ',' ORDER BY id) FROM pgtap04.runs$$),
          '1=failed,2=failed,3=failed,4=processing', 'lock: the recoverer''s view: the three stuck runs failed');
SELECT is((SELECT string_agg(id || '=' || status, ',' ORDER BY id) FROM pgtap04.runs),
          '1=processing,2=processing,3=pending,4=processing', 'lock: others do not see it before commit');
SELECT pgtap04.x('pgtap04_rec', 'ROLLBACK') AS rolled_back \gset
SELECT is(pgtap04.notified('pgtap04_listener', 1, '300 milliseconds'), '',
          'notify: a rolled-back recovery sends no notification');

------------------------------------------------------------------------------
-- 2. A run the app completed after detection, committed before the UPDATE.
------------------------------------------------------------------------------
SELECT pgtap04.x('pgtap04_rec', 'BEGIN') AS began \gset
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.find_stuck_runs('1 minute', 'pgtap04.runs')$$), '1,2,3',
          'completed: detection sees run 2 stuck');
SELECT is(pgtap04.x('pgtap04_app', $$UPDATE pgtap04.runs SET status = 'completed', finished_at = now() WHERE id = 2$$),
          'UPDATE 1', 'completed: then the app completes run 2 and commits');
SELECT is(pgtap04.x('pgtap04_app', $$UPDATE pgtap04.runs SET updated_at = now() WHERE id = 3$$),
          'UPDATE 1', 'completed: and records activity on run 3');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', NULL, 'pgtap04.runs')$$),
          '1', 'completed: recover in the same transaction recovers only run 1');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT string_agg(id || '=' || status, ',' ORDER BY id) FROM pgtap04.runs$$),
          '1=failed,2=completed,3=pending,4=processing', 'completed: run 2 stays completed, run 3 pending');
SELECT pgtap04.x('pgtap04_rec', 'ROLLBACK') AS rolled_back \gset
SELECT pgtap04.reset();

------------------------------------------------------------------------------
-- 3. The app is completing a run (row locked, not committed) when recovery
--    runs; it commits afterwards.
------------------------------------------------------------------------------
SELECT pgtap04.x('pgtap04_app', 'BEGIN') AS began \gset
SELECT is(pgtap04.x('pgtap04_app', $$UPDATE pgtap04.runs SET status = 'completed', finished_at = now() WHERE id = 2$$),
          'UPDATE 1', 'in flight: the app is completing run 2');
SELECT pgtap04.x('pgtap04_rec', 'BEGIN') AS began \gset
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', NULL, 'pgtap04.runs')$$),
          '1,3', 'in flight: recover skips run 2 without waiting');
SELECT is(pgtap04.x('pgtap04_app', 'COMMIT'), 'COMMIT', 'in flight: the app commits');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', NULL, 'pgtap04.runs')$$),
          '', 'in flight: recovering again does not touch the completed run');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT status FROM pgtap04.runs WHERE id = 2$$), 'completed',
          'in flight: run 2 is completed, not failed');
SELECT pgtap04.x('pgtap04_rec', 'ROLLBACK') AS rolled_back \gset
SELECT pgtap04.reset();

------------------------------------------------------------------------------
-- 4. REPEATABLE READ: the snapshot still shows run 2 stuck after the app
--    completed it. Recovery must not overwrite it: PostgreSQL refuses to lock
--    a row changed since the snapshot (40001, the caller retries), or it is
--    skipped.
------------------------------------------------------------------------------
SELECT pgtap04.x('pgtap04_rec', 'BEGIN ISOLATION LEVEL REPEATABLE READ') AS began \gset
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.find_stuck_runs('1 minute', 'pgtap04.runs')$$), '1,2,3',
          'repeatable read: detection sees run 2 stuck (snapshot taken)');
SELECT is(pgtap04.x('pgtap04_app', $$UPDATE pgtap04.runs SET status = 'completed', finished_at = now() WHERE id = 2$$),
          'UPDATE 1', 'repeatable read: the app completes run 2 and commits');
SELECT pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', NULL, 'pgtap04.runs')$$) AS rr_result \gset
SELECT ok(:'rr_result' IN ('ERROR 40001', '1,3'), 'repeatable read: recover raises 40001 or skips run 2');
SELECT diag('repeatable read: recover returned: ' || :'rr_result');
SELECT pgtap04.x('pgtap04_rec', 'ROLLBACK') AS rolled_back \gset
SELECT is((SELECT status FROM pgtap04.runs WHERE id = 2), 'completed', 'repeatable read: run 2 stays completed');
SELECT pgtap04.reset();

------------------------------------------------------------------------------
-- 5. The app is inserting a child row of a stuck run (FOREIGN KEY lock, FOR
--    KEY SHARE on the run) while recovery runs: no waiting either way.
------------------------------------------------------------------------------
SELECT pgtap04.x('pgtap04_app', 'BEGIN') AS began \gset
SELECT is(pgtap04.x('pgtap04_app', 'INSERT INTO pgtap04.items (run_id) VALUES (1)'), 'INSERT 0 1',
          'child row: the app is inserting an item of run 1');
SELECT pgtap04.x('pgtap04_rec', 'BEGIN') AS began \gset
SELECT pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', NULL, 'pgtap04.runs')$$) AS fk_result \gset
SELECT ok(:'fk_result' IN ('2,3', '1,2,3'),
          'child row: recover does not wait for the key-share lock (run 1 skipped or recovered)');
SELECT diag('child row: recover returned: ' || :'fk_result');
SELECT is(pgtap04.x('pgtap04_app', 'COMMIT'), 'COMMIT', 'child row: the app''s insert commits');
SELECT pgtap04.x('pgtap04_rec', 'ROLLBACK') AS rolled_back \gset
SELECT pgtap04.reset();

------------------------------------------------------------------------------
-- 6. Two recoverers at once: each run is recovered once.
------------------------------------------------------------------------------
SELECT pgtap04.x('pgtap04_rec', 'BEGIN') AS began, pgtap04.x('pgtap04_rec2', 'BEGIN') AS began2 \gset
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', 2, 'pgtap04.runs')$$),
          '1,2', 'two recoverers: the first takes the two oldest (max_runs 2), uncommitted');
SELECT is(pgtap04.q('pgtap04_rec2', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', NULL, 'pgtap04.runs')$$),
          '3', 'two recoverers: the second skips them without waiting and takes the rest');
SELECT is(pgtap04.x('pgtap04_rec', 'COMMIT'), 'COMMIT', 'two recoverers: the first commits');
SELECT is(pgtap04.notified('pgtap04_listener', 2, '5 seconds'),
          'pgtap04.runs#1:processing>failed,pgtap04.runs#2:processing>failed',
          'notify: at commit, one notification per recovered run');
SELECT is(pgtap04.q('pgtap04_rec2', $$SELECT run_id FROM recovery.recover_stuck_runs('1 minute', NULL, 'pgtap04.runs')$$),
          '', 'two recoverers: after that commit the second finds nothing more to do');
SELECT is(pgtap04.x('pgtap04_rec2', 'COMMIT'), 'COMMIT', 'two recoverers: the second commits');
SELECT is(pgtap04.notified('pgtap04_listener', 1, '5 seconds'), 'pgtap04.runs#3:pending>failed',
          'notify: the second recoverer''s run is notified at its commit');
SELECT is((SELECT string_agg(run_id || ':' || application_name, ',' ORDER BY run_id) FROM recovery.history
           WHERE run_table = 'pgtap04.runs'),
          '1:pgtap04-rec,2:pgtap04-rec,3:pgtap04-rec2', 'two recoverers: one history row per run, by the session that did it');
SELECT is((SELECT string_agg(id || '=' || status || '/' || (finished_at IS NOT NULL), ',' ORDER BY id) FROM pgtap04.runs),
          '1=failed/true,2=failed/true,3=failed/true,4=processing/false', 'two recoverers: the committed result');

------------------------------------------------------------------------------
-- 7. A table held past the lock timeout (the app holds SHARE, which the
--    UPDATE's ROW EXCLUSIVE waits for): recover_each_table rolls that table
--    back alone and says why in its row; the call itself succeeds.
SELECT pgtap04.reset();
SELECT pgtap04.x('pgtap04_app', 'BEGIN') AS began, pgtap04.x('pgtap04_app', 'LOCK TABLE pgtap04.runs IN SHARE MODE') AS locked \gset
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_table || ' ' || recovered || ' ' || sqlstate FROM recovery.recover_each_table('1 minute')$$),
          'pgtap04.runs 0 55P03', 'locked table: recover_each_table reports 55P03 in its row, and no error');
SELECT is(pgtap04.x('pgtap04_app', 'ROLLBACK'), 'ROLLBACK', 'locked table: the app lets go');
SELECT is((SELECT count(*) FROM pgtap04.runs WHERE status = 'failed'), 0::bigint, 'locked table: nothing was changed');
SELECT is(pgtap04.q('pgtap04_rec', $$SELECT run_table || ' ' || recovered FROM recovery.recover_each_table('1 minute')$$),
          'pgtap04.runs 3', 'lock gone: the next call recovers the three stuck runs');
SELECT pgtap04.reset();

-- Clean up: connections, registration, history, schema (and dblink if it
-- was created here, in pgtap04).
------------------------------------------------------------------------------
SELECT count(dblink_disconnect(c)) AS disconnected FROM unnest(dblink_get_connections()) AS c WHERE c LIKE 'pgtap04_%' \gset
SELECT recovery.unwatch('pgtap04.runs') AS unwatched \gset
DELETE FROM recovery.history WHERE run_table LIKE 'pgtap04.%';
SELECT * FROM finish();
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA pgtap04 CASCADE;
