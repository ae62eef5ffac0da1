-- Security: recovery's functions run with the caller's rights and a pinned
-- search_path, so hostile objects in the caller's search_path change nothing;
-- only a table's owner may watch it; recovering needs SELECT and UPDATE (table-
-- or column-level) and fails with 42501 otherwise, changing nothing;
-- column privileges and row-level security are honoured; recovery's own tables
-- are written only through its functions; history records the calling role.
--
-- Roles are cluster-wide: every role here is named pgtap05_* and created
-- inside this transaction, so the final ROLLBACK removes them.
BEGIN;
SELECT plan(80);

SET LOCAL client_min_messages = warning;
CREATE ROLE pgtap05_owner;        -- owns the run tables
CREATE ROLE pgtap05_member;       -- member of the owner role
CREATE ROLE pgtap05_stranger;     -- every table privilege, but not the owner
CREATE ROLE pgtap05_reader;       -- SELECT only
CREATE ROLE pgtap05_nobody;       -- nothing at all
CREATE ROLE pgtap05_colsel;       -- SELECT on some columns only
CREATE ROLE pgtap05_status_only;  -- SELECT, UPDATE (status) but not the finished column
CREATE ROLE pgtap05_colupd;       -- SELECT, UPDATE (status, finished_at)
CREATE ROLE pgtap05_tenant_a;     -- row-level security: sees tenant a only
CREATE ROLE pgtap05_upd_a;        -- row-level security: sees all, may update tenant a only
CREATE ROLE pgtap05_no_failed;    -- row-level security: may not write 'failed'
CREATE ROLE pgtap05_app;          -- the app, for the hostile search_path tests
GRANT pgtap05_owner TO pgtap05_member;

CREATE SCHEMA sec;
GRANT USAGE ON SCHEMA sec TO PUBLIC;
CREATE TABLE sec.runs (
    id          integer PRIMARY KEY,
    tenant      text NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz,
    finished_at timestamptz,
    secret      text
);
ALTER TABLE sec.runs OWNER TO pgtap05_owner;

-- (re)fills sec.runs: per tenant a stuck run, a live run, a finished run.
CREATE FUNCTION pg_temp.reset_runs() RETURNS void LANGUAGE sql AS $$
    DELETE FROM sec.runs;
    INSERT INTO sec.runs (id, tenant, status, created_at, updated_at, secret) VALUES
        (1, 'a', 'running', now() - interval '2 hours', NULL,                     'a-secret-1'),
        (2, 'a', 'running', now() - interval '3 hours', now() - interval '1 minute', 'a-secret-2'),
        (3, 'a', 'done',    now() - interval '5 hours', NULL,                     'a-secret-3'),
        (4, 'b', 'running', now() - interval '90 minutes', NULL,                  'b-secret-4'),
        (5, 'b', 'queued',  now() - interval '4 hours', NULL,                     'b-secret-5'),
        (6, 'b', 'running', now() - interval '5 minutes', NULL,                   'b-secret-6');
$$;
SELECT pg_temp.reset_runs();
CREATE TEMP TABLE runs_before AS SELECT * FROM sec.runs;
GRANT SELECT ON runs_before TO PUBLIC;
SELECT count(*) AS history_start FROM recovery.history \gset

------------------------------------------------------------------------------
-- The functions: SECURITY INVOKER, search_path pinned with pg_temp last.
------------------------------------------------------------------------------
SELECT is((SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
           WHERE pronamespace = 'recovery'::regnamespace AND prosecdef),
          NULL, 'no recovery function is SECURITY DEFINER');
SELECT is((SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
           WHERE pronamespace = 'recovery'::regnamespace
             AND NOT coalesce(proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)),
          NULL, 'every recovery function pins search_path = pg_catalog, pg_temp');
SELECT bag_has($$SELECT proname::text FROM pg_proc WHERE pronamespace = 'recovery'::regnamespace$$,
               $$VALUES ('watch'), ('unwatch'), ('find_stuck_runs'), ('recover_stuck_runs'),
                        ('stuck_runs_report'), ('recover_stuck_runs_report')$$,
               'the six API functions are there (and so were checked)');

------------------------------------------------------------------------------
-- watch / unwatch: the owner, a member of the owner role, or a superuser.
------------------------------------------------------------------------------
GRANT ALL ON sec.runs TO pgtap05_stranger;
SET LOCAL ROLE pgtap05_stranger;
SELECT throws_ok($$SELECT recovery.watch('sec.runs', active_statuses => '{queued,running}', failed_status => 'failed')$$,
                 '42501', 'must be owner of table sec.runs',
                 'a role with every privilege on the table but not its owner may not watch it');
RESET ROLE;
SELECT is((SELECT count(*) FROM recovery.watched_tables WHERE run_table = 'sec.runs'::regclass), 0::bigint,
          'and nothing was registered');
SET LOCAL ROLE pgtap05_owner;
SELECT is(recovery.watch('sec.runs', active_statuses => '{queued,running}', failed_status => 'failed'),
          true, 'the owner may watch it');
RESET ROLE;
SELECT is((SELECT watched_by::text FROM recovery.watched_tables WHERE run_table = 'sec.runs'::regclass),
          'pgtap05_owner', 'watched_by is the owner');
SET LOCAL ROLE pgtap05_stranger;
SELECT throws_ok($$SELECT recovery.unwatch('sec.runs')$$, '42501', 'must be owner of table sec.runs',
                 'a non-owner may not unwatch it');
SELECT throws_ok($$SELECT recovery.watch('sec.runs', active_statuses => '{running}', failed_status => 'failed')$$,
                 '42501', 'must be owner of table sec.runs', 'nor change its registration');
RESET ROLE;
SELECT is((SELECT active_statuses FROM recovery.watched_tables WHERE run_table = 'sec.runs'::regclass),
          '{queued,running}'::text[], 'the registration is unchanged');
SET LOCAL ROLE pgtap05_member;
SELECT is(recovery.watch('sec.runs', active_statuses => '{queued,running}', failed_status => 'failed'),
          false, 'a member of the owning role counts as owner (re-watch returns false)');
RESET ROLE;
SET LOCAL ROLE pgtap05_nobody;
SELECT throws_ok($$SELECT recovery.watch('sec.runs', active_statuses => '{running}', failed_status => 'failed')$$,
                 '42501', NULL, 'a role without any privilege may not watch it either');
RESET ROLE;
-- A superuser may watch a table it does not own (tested by the other files)
-- and so may unwatch it:
CREATE TABLE sec.other_runs (id int PRIMARY KEY, status text, created_at timestamptz);
ALTER TABLE sec.other_runs OWNER TO pgtap05_stranger;
SELECT is(recovery.watch('sec.other_runs', active_statuses => '{running}', failed_status => 'failed'), true,
          'a superuser may watch a table owned by someone else');
SET LOCAL ROLE pgtap05_owner;
SELECT throws_ok($$SELECT recovery.unwatch('sec.other_runs')$$, '42501', NULL,
                 'the owner of another watched table may not unwatch this one');
RESET ROLE;
SELECT is(recovery.unwatch('sec.other_runs'), true, 'a superuser may unwatch it');

------------------------------------------------------------------------------
-- Recovering needs SELECT and UPDATE on the written columns.
------------------------------------------------------------------------------
GRANT SELECT ON sec.runs TO pgtap05_reader;
SET LOCAL ROLE pgtap05_reader;
SELECT results_eq($$SELECT run_id FROM recovery.find_stuck_runs('30 minutes', 'sec.runs') ORDER BY run_id::int$$,
                  $$VALUES ('1'), ('4'), ('5')$$, 'a reader (SELECT only) may find the stuck runs');
SELECT throws_ok($$SELECT * FROM recovery.recover_stuck_runs('30 minutes', run_table => 'sec.runs')$$,
                 '42501', 'permission denied to recover stuck runs of table sec.runs',
                 'a reader gets 42501 from recover_stuck_runs');
SELECT throws_ok($$SELECT recovery.recover_stuck_runs_report('30 minutes', run_table => 'sec.runs')$$, '42501', NULL,
                 'and from recover_stuck_runs_report');
SET LOCAL client_min_messages = error;  -- its NOTICE
SELECT is_empty($$SELECT * FROM recovery.recover_each_table('30 minutes')$$,
                'recover_each_table by a role without the owner''s privileges leaves the table out');
SET LOCAL client_min_messages = warning;
RESET ROLE;
SELECT set_eq($$SELECT * FROM sec.runs$$, $$SELECT * FROM runs_before$$, 'no status changed');
SELECT is((SELECT count(*) FROM recovery.history), :history_start::bigint, 'no history row was written');

SET LOCAL ROLE pgtap05_nobody;
SELECT throws_ok($$SELECT * FROM recovery.find_stuck_runs('30 minutes', 'sec.runs')$$,
                 '42501', 'permission denied to read the runs of table sec.runs', 'without SELECT, find gets 42501');
SELECT throws_ok($$SELECT recovery.stuck_runs_report('30 minutes', 'sec.runs')$$,
                 '42501', 'permission denied to read the runs of table sec.runs', 'and so does the report');
RESET ROLE;

-- SELECT on some columns only: the whole row (run jsonb) is not readable, so
-- find fails rather than showing a column the role may not see.
GRANT SELECT (id, tenant, status, created_at, updated_at, finished_at) ON sec.runs TO pgtap05_colsel;
SET LOCAL ROLE pgtap05_colsel;
SELECT throws_ok($$SELECT * FROM recovery.find_stuck_runs('30 minutes', 'sec.runs')$$, '42501', NULL,
                 'SELECT on some columns: find fails with 42501 instead of leaking the secret column');
RESET ROLE;

GRANT SELECT, UPDATE (status) ON sec.runs TO pgtap05_status_only;
SET LOCAL ROLE pgtap05_status_only;
SELECT throws_ok($$SELECT * FROM recovery.recover_stuck_runs('30 minutes', run_table => 'sec.runs')$$,
                 '42501', 'permission denied to recover stuck runs of table sec.runs',
                 'UPDATE on status but not on finished_at: 42501');
RESET ROLE;
SELECT set_eq($$SELECT * FROM sec.runs$$, $$SELECT * FROM runs_before$$, 'and nothing changed');

GRANT SELECT, UPDATE (status, finished_at) ON sec.runs TO pgtap05_colupd;
SET LOCAL ROLE pgtap05_colupd;
SELECT results_eq($$SELECT run_id, previous_status, new_status FROM recovery.recover_stuck_runs('30 minutes', run_table => 'sec.runs') ORDER BY run_id$$,
                  $$VALUES ('1', 'running', 'failed'), ('4', 'running', 'failed'), ('5', 'queued', 'failed')$$,
                  'column-level UPDATE on status and finished_at is enough to recover');
RESET ROLE;
SELECT results_eq($$SELECT id, status, finished_at = now() FROM sec.runs ORDER BY id$$,
                  $$VALUES (1, 'failed', true), (2, 'running', NULL), (3, 'done', NULL),
                           (4, 'failed', true), (5, 'failed', true), (6, 'running', NULL)$$,
                  'exactly the stuck runs changed');
SELECT results_eq($$SELECT run_id, recovered_by::text COLLATE "default" FROM recovery.history
                    WHERE run_table = 'sec.runs' ORDER BY run_id$$,
                  $$VALUES ('1', 'pgtap05_colupd'), ('4', 'pgtap05_colupd'), ('5', 'pgtap05_colupd')$$,
                  'history records recovered_by = the calling role');
SELECT is((SELECT count(DISTINCT application_name) FROM recovery.history WHERE run_table = 'sec.runs'), 1::bigint,
          'and one application_name');

------------------------------------------------------------------------------
-- Row-level security.
------------------------------------------------------------------------------
SELECT pg_temp.reset_runs();
SELECT coalesce(max(id), 0) AS history_rls FROM recovery.history \gset
ALTER TABLE sec.runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_a_all ON sec.runs FOR ALL TO pgtap05_tenant_a USING (tenant = 'a');
GRANT SELECT, UPDATE ON sec.runs TO pgtap05_tenant_a;
SET LOCAL ROLE pgtap05_tenant_a;
SELECT results_eq($$SELECT run_id FROM recovery.find_stuck_runs('30 minutes', 'sec.runs')$$, $$VALUES ('1')$$,
                  'RLS: a role whose policy hides tenant b does not see b''s stuck runs');
SELECT is(recovery.stuck_runs_report('30 minutes', 'sec.runs')->'count', '1'::jsonb, 'RLS: nor count them in the report');
SELECT results_eq($$SELECT run_id FROM recovery.recover_stuck_runs('30 minutes', run_table => 'sec.runs')$$, $$VALUES ('1')$$,
                  'RLS: and recovers only its own stuck run');
RESET ROLE;
SELECT results_eq($$SELECT id, status FROM sec.runs WHERE tenant = 'b' ORDER BY id$$,
                  $$VALUES (4, 'running'), (5, 'queued'), (6, 'running')$$,
                  'RLS: tenant b''s stuck runs are untouched');
SELECT is((SELECT status FROM sec.runs WHERE id = 1), 'failed', 'RLS: tenant a''s stuck run is failed');
SELECT results_eq($$SELECT run_id FROM recovery.history WHERE run_table = 'sec.runs' AND id > $$ || :history_rls,
                  $$VALUES ('1')$$, 'RLS: history has only the run the role recovered');

-- A policy that shows every row but lets the role update tenant a only: the
-- rows it may not update are left alone and get no history row.
SELECT pg_temp.reset_runs();
SELECT coalesce(max(id), 0) AS history_rls FROM recovery.history \gset
CREATE POLICY upd_a_select ON sec.runs FOR SELECT TO pgtap05_upd_a USING (true);
CREATE POLICY upd_a_update ON sec.runs FOR UPDATE TO pgtap05_upd_a USING (tenant = 'a');
GRANT SELECT, UPDATE ON sec.runs TO pgtap05_upd_a;
SET LOCAL ROLE pgtap05_upd_a;
SELECT results_eq($$SELECT run_id FROM recovery.find_stuck_runs('30 minutes', 'sec.runs') ORDER BY run_id$$,
                  $$VALUES ('1'), ('4'), ('5')$$, 'RLS: a role that may see every row finds every stuck run');
SELECT results_eq($$SELECT run_id FROM recovery.recover_stuck_runs('30 minutes', run_table => 'sec.runs')$$, $$VALUES ('1')$$,
                  'RLS: but recovers only the one its UPDATE policy allows');
RESET ROLE;
SELECT results_eq($$SELECT id, status FROM sec.runs WHERE status <> 'done' ORDER BY id$$,
                  $$VALUES (1, 'failed'), (2, 'running'), (4, 'running'), (5, 'queued'), (6, 'running')$$,
                  'RLS: rows outside the UPDATE policy are unchanged');
SELECT results_eq($$SELECT run_id FROM recovery.history WHERE run_table = 'sec.runs' AND id > $$ || :history_rls,
                  $$VALUES ('1')$$, 'RLS: one history row, for the run that changed');

-- A WITH CHECK policy that forbids writing 'failed': the whole call fails, nothing changes.
SELECT pg_temp.reset_runs();
CREATE POLICY no_failed_select ON sec.runs FOR SELECT TO pgtap05_no_failed USING (true);
CREATE POLICY no_failed_update ON sec.runs FOR UPDATE TO pgtap05_no_failed USING (true) WITH CHECK (status <> 'failed');
GRANT SELECT, UPDATE ON sec.runs TO pgtap05_no_failed;
SELECT coalesce(max(id), 0) AS history_rls FROM recovery.history \gset
SET LOCAL ROLE pgtap05_no_failed;
SELECT throws_ok($$SELECT * FROM recovery.recover_stuck_runs('30 minutes', run_table => 'sec.runs')$$, '42501',
                 'new row violates row-level security policy for table "runs"',
                 'RLS: WITH CHECK forbidding the failed status fails the call with 42501');
RESET ROLE;
SELECT set_eq($$SELECT * FROM sec.runs$$, $$SELECT * FROM runs_before$$, 'RLS: and nothing changed');
SELECT is((SELECT coalesce(max(id), 0) FROM recovery.history), :history_rls::bigint, 'RLS: and no history was written');

-- FORCE ROW LEVEL SECURITY applies to the owner too.
SELECT pg_temp.reset_runs();
CREATE POLICY owner_b ON sec.runs FOR ALL TO pgtap05_owner USING (tenant = 'b');
ALTER TABLE sec.runs FORCE ROW LEVEL SECURITY;
SET LOCAL ROLE pgtap05_owner;
SELECT results_eq($$SELECT run_id FROM recovery.recover_stuck_runs('30 minutes') ORDER BY run_id$$,
                  $$VALUES ('4'), ('5')$$, 'RLS: with FORCE, even the owner recovers only what its policy shows');
RESET ROLE;
SELECT results_eq($$SELECT id, status FROM sec.runs WHERE tenant = 'a' AND status <> 'done' ORDER BY id$$,
                  $$VALUES (1, 'running'), (2, 'running')$$, 'RLS: the hidden tenant''s rows are unchanged');
ALTER TABLE sec.runs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sec.runs DISABLE ROW LEVEL SECURITY;

------------------------------------------------------------------------------
-- recovery.history and recovery.watched_tables: readable, not writable.
------------------------------------------------------------------------------
SET LOCAL ROLE pgtap05_owner;
SELECT lives_ok($$SELECT count(*) FROM recovery.history$$, 'anyone may read recovery.history');
SELECT lives_ok($$SELECT count(*) FROM recovery.watched_tables$$, 'anyone may read recovery.watched_tables');
SELECT throws_ok($$INSERT INTO recovery.history (run_table, run_id, previous_status, new_status, stuck_minutes, reason, recovered_by)
                   VALUES ('sec.runs', '1', 'running', 'failed', 1, 'forged', 'someone_else')$$,
                 '42501', NULL, 'the owner of a watched table may not INSERT into recovery.history');
SELECT throws_ok($$UPDATE recovery.history SET recovered_by = 'someone_else'$$, '42501', NULL,
                 'nor UPDATE it');
SELECT throws_ok($$DELETE FROM recovery.history$$, '42501', NULL, 'nor DELETE from it');
SELECT throws_ok($$TRUNCATE recovery.history$$, '42501', NULL, 'nor TRUNCATE it');
SELECT throws_ok($$INSERT INTO recovery.watched_tables (run_table, table_name, status_column, started_column, id_column, active_statuses, failed_status)
                   VALUES ('sec.runs', 'x', 'status', 'created_at', 'id', '{running}', 'failed')$$,
                 '42501', NULL, 'nor INSERT into recovery.watched_tables');
SELECT throws_ok($$UPDATE recovery.watched_tables SET active_statuses = '{done}'$$, '42501', NULL,
                 'nor UPDATE it (e.g. to make finished runs "stuck")');
SELECT throws_ok($$DELETE FROM recovery.watched_tables$$, '42501', NULL, 'nor DELETE from it');
SELECT throws_ok($$SELECT setval('recovery.history_id_seq', 1)$$, '42501', NULL, 'nor reset the history sequence');
RESET ROLE;
SET LOCAL ROLE pgtap05_nobody;
SELECT throws_ok($$DELETE FROM recovery.history$$, '42501', NULL, 'a role with no privileges may not DELETE history');
SELECT throws_ok($$TRUNCATE recovery.watched_tables$$, '42501', NULL, 'nor TRUNCATE watched_tables');
RESET ROLE;
SELECT is((SELECT active_statuses FROM recovery.watched_tables WHERE run_table = 'sec.runs'::regclass),
          '{queued,running}'::text[], 'the registration is as the owner left it');
-- The administrative functions are not for every role.
SET LOCAL ROLE pgtap05_owner;
SELECT throws_ok($$SELECT recovery.prune_history('1 day')$$, '42501', NULL,
                 'an ordinary role may not prune the history');
SELECT throws_ok($$SELECT recovery.run_worker_now()$$, '42501', NULL,
                 'nor wake the background worker');
SELECT lives_ok($$SELECT * FROM recovery.worker_status()$$, 'but may read the worker status');
RESET ROLE;

------------------------------------------------------------------------------
-- A hostile search_path: now(), =, <, to_jsonb, unnest ... in a schema at
-- the front of the caller's search_path (even before pg_catalog). They log
-- every call to evil.calls and return wrong answers ("everything matches",
-- "everything is old", now() in 2000). None of them may be called.
------------------------------------------------------------------------------
SELECT pg_temp.reset_runs();
CREATE TYPE sec.run_status AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED');
CREATE TABLE sec.prisma_runs (
    id            text PRIMARY KEY,
    status        sec.run_status NOT NULL,
    "createdAt"   timestamp(3) NOT NULL,
    "updatedAt"   timestamp(3),
    "completedAt" timestamp(3)
);
CREATE TABLE sec.jobs (
    id          bigint PRIMARY KEY,
    state       varchar(20) NOT NULL,
    created_at  timestamptz NOT NULL,
    heartbeat_at timestamptz,
    finished_at timestamptz
);
ALTER TABLE sec.prisma_runs OWNER TO pgtap05_owner;
ALTER TABLE sec.jobs OWNER TO pgtap05_owner;
INSERT INTO sec.prisma_runs (id, status, "createdAt", "updatedAt") VALUES
    ('p-stuck', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '45 minutes', NULL),
    ('p-alive', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '3 hours', (now() AT TIME ZONE 'UTC') - interval '1 minute'),
    ('p-young', 'PENDING',    (now() AT TIME ZONE 'UTC') - interval '1 minute', NULL),
    ('p-done',  'COMPLETED',  (now() AT TIME ZONE 'UTC') - interval '5 hours', NULL);
INSERT INTO sec.jobs VALUES
    (1, 'running', now() - interval '2 hours', now() - interval '50 minutes', NULL),
    (2, 'running', now() - interval '2 hours', now() - interval '10 seconds', NULL),
    (3, 'done',    now() - interval '9 hours', NULL, NULL);
SELECT recovery.watch('sec.prisma_runs') AS w1,
       recovery.watch('sec.jobs', status_column => 'state', active_statuses => '{queued,running}',
                      failed_status => 'dead') AS w2 \gset
GRANT SELECT, UPDATE ON sec.runs, sec.prisma_runs, sec.jobs TO pgtap05_app;
-- The app covers these tables in calls that name none: it has their owner's privileges.
GRANT pgtap05_owner TO pgtap05_app;

CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
CREATE TABLE evil.calls (fn text, by_role name DEFAULT current_user);
GRANT INSERT, SELECT ON evil.calls TO PUBLIC;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('now()'); RETURN '2000-01-01 00:00+00'; END$$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('text = text'); RETURN true; END$$;
CREATE FUNCTION evil.varchar_eq(varchar, varchar) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('varchar = varchar'); RETURN true; END$$;
CREATE FUNCTION evil.status_eq(sec.run_status, sec.run_status) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('run_status = run_status'); RETURN true; END$$;
CREATE FUNCTION evil.int8_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('bigint = bigint'); RETURN true; END$$;
CREATE FUNCTION evil.int4_eq(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('int = int'); RETURN true; END$$;
CREATE FUNCTION evil.tstz_lt(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('timestamptz < timestamptz'); RETURN true; END$$;
CREATE FUNCTION evil.ts_lt(timestamp, timestamp) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('timestamp < timestamp'); RETURN true; END$$;
CREATE FUNCTION evil.to_jsonb(anyelement) RETURNS jsonb LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('to_jsonb'); RETURN '{"hacked": true}'; END$$;
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('unnest'); RETURN; END$$;
CREATE FUNCTION evil.quote_ident(text) RETURNS text LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('quote_ident'); RETURN 'evil.calls'; END$$;
CREATE FUNCTION evil.jsonb_agg(anyelement) RETURNS jsonb LANGUAGE plpgsql AS
    $$BEGIN INSERT INTO evil.calls (fn) VALUES ('jsonb_agg'); RETURN '[]'; END$$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE OPERATOR evil.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = evil.varchar_eq);
CREATE OPERATOR evil.= (LEFTARG = sec.run_status, RIGHTARG = sec.run_status, FUNCTION = evil.status_eq);
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_eq);
CREATE OPERATOR evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int4_eq);
CREATE OPERATOR evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.tstz_lt);
CREATE OPERATOR evil.< (LEFTARG = timestamp, RIGHTARG = timestamp, FUNCTION = evil.ts_lt);

-- What a clean caller gets (nothing hostile in its path), as the app role.
SET LOCAL ROLE pgtap05_app;
CREATE TEMP TABLE clean_find AS SELECT * FROM recovery.find_stuck_runs('30 minutes');
CREATE TEMP TABLE clean_report AS SELECT recovery.stuck_runs_report('30 minutes') AS body;
RESET ROLE;

-- Precondition: with the hostile path, the caller's own SQL does use them.
SET LOCAL ROLE pgtap05_app;
SET LOCAL search_path = evil, pg_catalog, public;
CREATE TEMP TABLE hostile_probe AS
    SELECT now() AS now_value, 'a'::text = 'b'::text AS text_eq,
           now() < '1970-01-01'::timestamptz AS tstz_lt, 1::bigint = 2::bigint AS int8_eq;
RESET search_path;
RESET ROLE;
SELECT is((SELECT (now_value, text_eq, tstz_lt, int8_eq)::text FROM hostile_probe),
          '("2000-01-01 00:00:00+00",t,t,t)',
          'precondition: the hostile now(), = and < are what the caller''s own SQL gets');
SELECT ok((SELECT count(*) FROM evil.calls) >= 4, 'precondition: and they log their calls');
DELETE FROM evil.calls;

-- The same calls with the hostile path, as the app (a non-superuser).
SET LOCAL ROLE pgtap05_app;
SET LOCAL search_path = evil, pg_catalog, public;
CREATE TEMP TABLE hostile_find AS SELECT * FROM recovery.find_stuck_runs('30 minutes');
CREATE TEMP TABLE hostile_report AS SELECT recovery.stuck_runs_report('30 minutes') AS body;
CREATE TEMP TABLE hostile_recover AS SELECT * FROM recovery.recover_stuck_runs('30 minutes');
CREATE TEMP TABLE hostile_recover_report AS SELECT recovery.recover_stuck_runs_report('30 minutes') AS body;
RESET search_path;
RESET ROLE;
-- ... and as the owner: watch and unwatch.
SET LOCAL ROLE pgtap05_owner;
SET LOCAL search_path = evil, pg_catalog, public;
CREATE TEMP TABLE hostile_watch AS
    SELECT recovery.watch('sec.jobs', status_column => 'state', active_statuses => '{queued,running}',
                          failed_status => 'dead') AS rewatch,
           recovery.unwatch('sec.prisma_runs') AS unwatched;
CREATE TEMP TABLE hostile_watch2 AS SELECT recovery.watch('sec.prisma_runs') AS watched;
RESET search_path;
RESET ROLE;

SELECT results_eq($$SELECT run_table, run_id FROM clean_find ORDER BY 1, 2$$,
                  $$VALUES ('sec.jobs', '1'), ('sec.prisma_runs', 'p-stuck'), ('sec.runs', '1'), ('sec.runs', '4'), ('sec.runs', '5')$$,
                  'clean: the expected stuck runs');
SELECT set_eq($$SELECT * FROM hostile_find$$, $$SELECT * FROM clean_find$$,
              'hostile path: find_stuck_runs returns exactly what a clean caller gets');
SELECT is((SELECT body FROM hostile_report), (SELECT body FROM clean_report),
          'hostile path: stuck_runs_report is identical');
SELECT set_eq($$SELECT run_table, run_id, previous_status, started_at, stuck_minutes FROM hostile_recover$$,
              $$SELECT run_table, run_id, status, started_at, stuck_minutes FROM clean_find$$,
              'hostile path: recover_stuck_runs recovers exactly the runs a clean caller finds');
SELECT is((SELECT body->'recovered' FROM hostile_recover_report), '0'::jsonb,
          'hostile path: a second recovery (report) finds nothing left');
SELECT results_eq($$SELECT id, status::text FROM sec.prisma_runs ORDER BY id$$,
                  $$VALUES ('p-alive', 'PROCESSING'), ('p-done', 'COMPLETED'), ('p-stuck', 'FAILED'), ('p-young', 'PENDING')$$,
                  'hostile path: only the stuck Prisma run changed');
SELECT results_eq($$SELECT id, state::text, finished_at = now() FROM sec.jobs ORDER BY id$$,
                  $$VALUES (1::bigint, 'dead', true), (2, 'running', NULL), (3, 'done', NULL)$$,
                  'hostile path: only the stuck job changed, finished_at = the real now()');
SELECT is((SELECT "completedAt" FROM sec.prisma_runs WHERE id = 'p-stuck'), (now() AT TIME ZONE 'UTC')::timestamp(3),
          'hostile path: completedAt is the real now(), not the hostile one');
SELECT results_eq($$SELECT run_table, run_id, recovered_by::text COLLATE "default", recovered_at = now()
                    FROM recovery.history WHERE run_table IN ('sec.jobs', 'sec.prisma_runs') ORDER BY 1, 2$$,
                  $$VALUES ('sec.jobs', '1', 'pgtap05_app', true), ('sec.prisma_runs', 'p-stuck', 'pgtap05_app', true)$$,
                  'hostile path: history rows carry the app role and the real now()');
SELECT is((SELECT (rewatch, unwatched)::text FROM hostile_watch) || (SELECT watched::text FROM hostile_watch2),
          '(f,t)true', 'hostile path: watch and unwatch work as usual');
SELECT is((SELECT array_agg(DISTINCT fn || ' by ' || by_role) FROM evil.calls), NULL,
          'no hostile function or operator was called, by any role');

------------------------------------------------------------------------------
-- An unprivileged table owner must not get the rights of whoever runs
-- recovery over all watched tables (a superuser psql session, a pg_cron job):
-- the owner chooses to be watched, and its table can carry code (an UPDATE
-- trigger, a cast to json of its own enum type that to_jsonb(row) calls).
-- PostgreSQL's own maintenance commands run such code as the table owner in a
-- security-restricted operation; recovery must not run it with the caller's
-- superuser rights either (it may skip such tables, or run them as their
-- owner). These run as the (superuser) test role.
------------------------------------------------------------------------------
CREATE ROLE pgtap05_mallory;
CREATE SCHEMA mallory AUTHORIZATION pgtap05_mallory;
SET LOCAL ROLE pgtap05_mallory;
CREATE TABLE mallory.seen (what text, by_role name, superuser text);
CREATE TYPE mallory.colour AS ENUM ('red');
CREATE FUNCTION mallory.colour_json(mallory.colour) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    -- (is_superuser reports the session user; what counts is the current user's rights.)
    INSERT INTO mallory.seen SELECT 'cast to json', current_user, CASE WHEN rolsuper THEN 'on' ELSE 'off' END
    FROM pg_catalog.pg_roles WHERE rolname = current_user;
    RETURN '"red"';
END $$;
CREATE CAST (mallory.colour AS json) WITH FUNCTION mallory.colour_json(mallory.colour);
CREATE FUNCTION mallory.on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mallory.seen SELECT 'update trigger', current_user, CASE WHEN rolsuper THEN 'on' ELSE 'off' END
    FROM pg_catalog.pg_roles WHERE rolname = current_user;
    RETURN NEW;
END $$;
CREATE TABLE mallory.runs (id int PRIMARY KEY, status text, created_at timestamptz, colour mallory.colour);
CREATE TRIGGER on_update BEFORE UPDATE ON mallory.runs FOR EACH ROW EXECUTE FUNCTION mallory.on_update();
INSERT INTO mallory.runs VALUES (1, 'running', now() - interval '2 hours', 'red');
SELECT ok(recovery.watch('mallory.runs', active_statuses => '{running}', failed_status => 'failed'),
          'an unprivileged role may watch its own table');
SELECT throws_ok($$SELECT recovery.watch('recovery.history', status_column => 'new_status', started_column => 'recovered_at',
                                         active_statuses => '{FAILED}', failed_status => 'X')$$,
                 '42501', NULL, 'but not recovery.history (it is not the owner)');
RESET ROLE;
CREATE TEMP TABLE su_find AS SELECT * FROM recovery.find_stuck_runs('30 minutes');
SELECT is((SELECT array_agg(what) FROM mallory.seen WHERE superuser = 'on'), NULL,
          'find_stuck_runs() by a superuser does not run a table owner''s cast with superuser rights');
CREATE TEMP TABLE su_recover AS SELECT * FROM recovery.recover_stuck_runs('30 minutes');
SELECT is((SELECT array_agg(what) FROM mallory.seen WHERE superuser = 'on' AND what = 'update trigger'), NULL,
          'recover_stuck_runs() by a superuser does not run a table owner''s trigger with superuser rights');
SELECT is((SELECT array_agg(DISTINCT what || ' as ' || by_role ORDER BY what || ' as ' || by_role) FROM mallory.seen),
          ARRAY['cast to json as pgtap05_mallory', 'update trigger as pgtap05_mallory'],
          'the owner''s code did run, as the owner');
SELECT is((SELECT status FROM mallory.runs), 'failed', 'and the run was recovered');

SELECT * FROM finish();
ROLLBACK;
