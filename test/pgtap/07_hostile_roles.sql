-- Hostile roles: an ordinary role (mallory) that owns nothing but its own
-- watched tables attacks whoever runs recovery: a superuser in psql, an app
-- role recovering every table, an app role that names mallory's table. Its
-- table carries code (an UPDATE trigger, a cast to json of its own type, a
-- domain check, operators in its own schema) that records who ran it, tries
-- to make mallory superuser, and tries to leave settings behind in the
-- caller's session (search_path first of all, so that the caller's next
-- statement resolves mallory's operator). Every attack must fail: mallory's
-- rights unchanged, the caller's settings unchanged, nothing of mallory's run
-- with anyone's rights but mallory's (or, where the caller named a table
-- with row-level security, the caller's own: its consent), nothing shown or
-- changed that the caller may not see or change.
--
-- Roles are cluster-wide: every role here is named pgtap07_* and created
-- inside this transaction, so the final ROLLBACK removes them. The worker,
-- pg_cron and planning-time attacks are in test/tap/109_hostile_roles.pl.
BEGIN;
SELECT plan(68);

SET LOCAL client_min_messages = warning;
CREATE ROLE pgtap07_mallory;
CREATE ROLE pgtap07_app;
CREATE ROLE pgtap07_other;
CREATE SCHEMA mallory AUTHORIZATION pgtap07_mallory;
CREATE SCHEMA app AUTHORIZATION pgtap07_app;
GRANT USAGE ON SCHEMA mallory, app TO PUBLIC;

-- The caller's settings, to compare after every call.
CREATE FUNCTION pg_temp.settings() RETURNS TABLE (name text, setting text)
    LANGUAGE sql AS $$ SELECT s.name, s.setting FROM pg_catalog.pg_settings AS s $$;
CREATE TEMP TABLE settings_before AS SELECT * FROM pg_temp.settings();
GRANT SELECT ON settings_before TO PUBLIC;

------------------------------------------------------------------------------
-- Mallory's table and its code.
------------------------------------------------------------------------------
SET LOCAL ROLE pgtap07_mallory;
CREATE TABLE mallory.seen (what text, by_role name, superuser boolean);
GRANT INSERT, SELECT ON mallory.seen TO PUBLIC;
CREATE FUNCTION mallory.attack(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mallory.seen
        SELECT what, current_user, r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user;
    -- Settings meant to outlive the switch back to the caller.
    PERFORM pg_catalog.set_config('search_path', 'mallory, pg_catalog, public', false);
    PERFORM pg_catalog.set_config('statement_timeout', '987654', false);
    PERFORM pg_catalog.set_config('work_mem', '777kB', false);
    PERFORM pg_catalog.set_config('default_transaction_read_only', 'on', false);
    -- Escalation: works only with a superuser's rights.
    BEGIN
        EXECUTE 'ALTER ROLE pgtap07_mallory SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    -- Identity: forbidden inside a security-restricted operation.
    BEGIN
        EXECUTE 'RESET ROLE';
        INSERT INTO mallory.seen VALUES ('reset role worked', current_user, NULL);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
END $$;
-- The operator a leaked search_path would make the caller's SQL resolve.
CREATE FUNCTION mallory.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mallory.attack('text = text');
    RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR mallory.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mallory.text_eq);
CREATE FUNCTION mallory.on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mallory.attack('trigger');
    RETURN NEW;
END $$;
CREATE TYPE mallory.colour AS ENUM ('red');
CREATE FUNCTION mallory.colour_json(mallory.colour) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mallory.attack('cast');
    RETURN '"red"';
END $$;
CREATE CAST (mallory.colour AS json) WITH FUNCTION mallory.colour_json(mallory.colour);
CREATE FUNCTION mallory.check_stamp(timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF $1 IS NOT NULL THEN  -- (the test's own inserts write NULL)
        PERFORM mallory.attack('domain check');
    END IF;
    RETURN true;
END $$;
-- The finished column's type: recovery writes it, undo parses it back.
CREATE DOMAIN mallory.stamp AS timestamptz CHECK (mallory.check_stamp(VALUE));
CREATE TABLE mallory.runs (
    id          integer PRIMARY KEY,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    finished_at mallory.stamp,
    colour      mallory.colour
);
CREATE TRIGGER on_update BEFORE UPDATE ON mallory.runs FOR EACH ROW EXECUTE FUNCTION mallory.on_update();
INSERT INTO mallory.runs VALUES (1, 'running', now() - interval '2 hours', NULL, 'red'),
                                (2, 'running', now() - interval '3 hours', NULL, 'red');
SELECT ok(recovery.watch('mallory.runs', active_statuses => '{running}', failed_status => 'failed'),
          'mallory may watch its own table');
-- A run id whose type is mallory's domain: its check records any run by
-- another role (the test's own inserts, as mallory, are not recorded).
CREATE FUNCTION mallory.check_rid(text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'pgtap07_mallory' THEN
        INSERT INTO mallory.seen VALUES ('id domain check', current_user, NULL);
    END IF;
    RETURN true;
END $$;
CREATE DOMAIN mallory.rid AS text CHECK (mallory.check_rid(VALUE));
CREATE TABLE mallory.domain_ids (id mallory.rid PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL,
                                 finished_at timestamptz);
INSERT INTO mallory.domain_ids VALUES ('d1', 'running', now() - interval '2 hours', NULL);
SELECT recovery.watch('mallory.domain_ids', active_statuses => '{running}', failed_status => 'failed') AS w \gset
RESET ROLE;

-- The test's own resets must not run mallory's code in this session.
CREATE FUNCTION pg_temp.reset_mallory() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    ALTER TABLE mallory.runs DISABLE TRIGGER on_update;
    UPDATE mallory.runs SET status = 'running';
    ALTER TABLE mallory.runs ENABLE TRIGGER on_update;
END $$;

-- The app's own table (a victim for claims and history).
SET LOCAL ROLE pgtap07_app;
CREATE TABLE app.runs (id numeric PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL,
                       finished_at timestamptz, secret text);
INSERT INTO app.runs VALUES (1.50, 'running', now() - interval '2 hours', NULL, 'app-secret'),
                            (2, 'running', now(), NULL, 'app-secret-2');
SELECT recovery.watch('app.runs', active_statuses => '{running}', failed_status => 'failed') AS w \gset
RESET ROLE;
DELETE FROM mallory.seen;

------------------------------------------------------------------------------
-- A superuser in psql: every kind of call that reaches mallory's code.
------------------------------------------------------------------------------
CREATE TEMP TABLE su_find AS SELECT * FROM recovery.find_stuck_runs('30 minutes');
SELECT set_eq($$SELECT * FROM pg_temp.settings()$$, $$SELECT * FROM settings_before$$,
              'superuser find_stuck_runs(): every setting of the session is as before');
CREATE TEMP TABLE su_report AS SELECT recovery.stuck_runs_report('30 minutes') AS body;
CREATE TEMP TABLE su_recover AS SELECT * FROM recovery.recover_stuck_runs('30 minutes');
SELECT set_eq($$SELECT * FROM pg_temp.settings()$$, $$SELECT * FROM settings_before$$,
              'superuser recover_stuck_runs(): every setting of the session is as before');
SELECT is(current_setting('search_path'), (SELECT setting FROM settings_before WHERE name = 'search_path'),
          'superuser: search_path is the session''s own');
SELECT is('a'::text = 'a'::text, true, 'superuser: the session''s own = is pg_catalog''s (no mallory row below)');
CREATE TEMP TABLE su_each AS SELECT * FROM recovery.recover_each_table('30 minutes');
SELECT set_eq($$SELECT * FROM pg_temp.settings()$$, $$SELECT * FROM settings_before$$,
              'superuser recover_each_table(): every setting of the session is as before');
SELECT is((SELECT count(*) FROM su_find WHERE run_table = 'mallory.runs'), 2::bigint,
          'superuser: mallory''s stuck runs are found');
SELECT is((SELECT status FROM mallory.runs WHERE id = 1), 'failed', 'superuser: and recovered');
-- undo runs the row's domain check (jsonb_populate_record of the row type).
SELECT lives_ok(format('SELECT recovery.undo(%s)',
                       (SELECT max(id) FROM recovery.history WHERE run_table = 'mallory.runs')),
                'superuser: undo of mallory''s recovery works');
SELECT set_eq($$SELECT * FROM pg_temp.settings()$$, $$SELECT * FROM settings_before$$,
              'superuser undo(): every setting of the session is as before');
SELECT run_id AS undone FROM recovery.history WHERE run_table = 'mallory.runs' ORDER BY id DESC LIMIT 1 \gset
SELECT is(recovery.claim('mallory.runs', :'undone'), true, 'superuser: claim of mallory''s run works');
SELECT is(recovery.release('mallory.runs', :'undone'), true, 'superuser: and release');
SELECT set_eq($$SELECT * FROM pg_temp.settings()$$, $$SELECT * FROM settings_before$$,
              'superuser claim()/release(): every setting of the session is as before');

UPDATE mallory.domain_ids SET status = 'running';
SELECT is(recovery.claim('mallory.domain_ids', 'd1'), true, 'superuser: claim of a run whose id is mallory''s domain');
SELECT is(recovery.release('mallory.domain_ids', 'd1'), true, 'superuser: and release');
SELECT is((SELECT array_agg(DISTINCT what ORDER BY what) FROM mallory.seen),
          ARRAY['cast', 'domain check', 'trigger'],
          'mallory''s trigger, cast and domain check did run');
SELECT is((SELECT array_agg(DISTINCT by_role) FROM mallory.seen), ARRAY['pgtap07_mallory']::name[],
          'superuser calls: all of mallory''s code ran as mallory');
SELECT is((SELECT count(*) FROM mallory.seen WHERE superuser OR what = 'text = text' OR what = 'reset role worked'),
          0::bigint, 'superuser calls: none with superuser rights, no leaked operator, no RESET ROLE');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'pgtap07_mallory'), false,
          'superuser calls: mallory is not superuser');

------------------------------------------------------------------------------
-- An app role recovering every table: mallory's table is not its to cover.
------------------------------------------------------------------------------
SELECT pg_temp.reset_mallory();
UPDATE app.runs SET status = 'running';
DELETE FROM mallory.seen;
SET LOCAL ROLE pgtap07_app;
CREATE TEMP TABLE app_find AS SELECT * FROM recovery.find_stuck_runs('30 minutes');
CREATE TEMP TABLE app_recover AS SELECT * FROM recovery.recover_stuck_runs('30 minutes');
CREATE TEMP TABLE app_each AS SELECT * FROM recovery.recover_each_table('30 minutes');
CREATE TEMP TABLE app_report AS SELECT recovery.recover_stuck_runs_report('30 minutes') AS body;
RESET ROLE;
SELECT is((SELECT array_agg(DISTINCT run_table) FROM app_find), ARRAY['app.runs'],
          'app, all tables: finds only its own table''s runs');
SELECT is((SELECT array_agg(DISTINCT run_table) FROM app_each), ARRAY['app.runs'],
          'app, recover_each_table: one row, its own table');
SELECT is((SELECT count(*) FROM mallory.seen), 0::bigint, 'app, all tables: none of mallory''s code ran');
SELECT is((SELECT count(*) FROM mallory.runs WHERE status = 'running'), 2::bigint,
          'app, all tables: mallory''s runs are untouched');
SELECT is((SELECT status FROM app.runs WHERE id = 1.5), 'failed', 'app, all tables: its own stuck run is recovered');
SELECT set_eq($$SELECT * FROM pg_temp.settings()$$, $$SELECT * FROM settings_before$$,
              'app, all tables: every setting as before');

-- Mallory grants the app rights, to be included: still not covered.
SET LOCAL ROLE pgtap07_mallory;
GRANT SELECT, UPDATE ON mallory.runs TO pgtap07_app;
RESET ROLE;
SET LOCAL ROLE pgtap07_app;
CREATE TEMP TABLE app_find2 AS SELECT * FROM recovery.find_stuck_runs('30 minutes');
RESET ROLE;
SELECT is((SELECT count(*) FROM app_find2 WHERE run_table = 'mallory.runs'), 0::bigint,
          'app, all tables: a grant from mallory does not pull its table into the app''s calls');
SELECT is((SELECT count(*) FROM mallory.seen), 0::bigint, 'and none of its code ran');

------------------------------------------------------------------------------
-- The app names mallory's table: the code runs as mallory, never as the app.
------------------------------------------------------------------------------
SET LOCAL ROLE pgtap07_app;
CREATE TEMP TABLE app_named AS SELECT * FROM recovery.recover_stuck_runs('30 minutes', run_table => 'mallory.runs');
RESET ROLE;
SELECT is((SELECT count(*) FROM app_named), 2::bigint, 'app names mallory''s table: its stuck runs are recovered');
SELECT is((SELECT array_agg(DISTINCT by_role) FROM mallory.seen), ARRAY['pgtap07_mallory']::name[],
          'app names mallory''s table: mallory''s code ran as mallory, not with the app''s rights');
SELECT is((SELECT array_agg(DISTINCT recovered_by::text) FROM recovery.history WHERE run_table = 'mallory.runs'
           AND id > (SELECT max(id) - 2 FROM recovery.history)), ARRAY['pgtap07_app'],
          'and history records the app as the one who recovered');
SELECT set_eq($$SELECT * FROM pg_temp.settings()$$, $$SELECT * FROM settings_before$$,
              'app names mallory''s table: every setting as before');

-- With row-level security on mallory's table, the owner's view is not the
-- app's: the statements run as the app (it named the table), restricted.
SELECT pg_temp.reset_mallory();
DELETE FROM mallory.seen;
SET LOCAL ROLE pgtap07_mallory;
ALTER TABLE mallory.runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_sees_one ON mallory.runs FOR ALL TO pgtap07_app USING (id = 2);
RESET ROLE;
SET LOCAL ROLE pgtap07_app;
CREATE TEMP TABLE app_rls AS SELECT * FROM recovery.recover_stuck_runs('30 minutes', run_table => 'mallory.runs');
RESET ROLE;
SELECT results_eq($$SELECT run_id FROM app_rls$$, $$VALUES ('2')$$,
                  'RLS: the app recovers only the run its policy shows');
SELECT results_eq($$SELECT id, status FROM mallory.runs ORDER BY id$$, $$VALUES (1, 'running'), (2, 'failed')$$,
                  'RLS: the hidden run is untouched');
SELECT is((SELECT array_agg(DISTINCT by_role) FROM mallory.seen), ARRAY['pgtap07_app']::name[],
          'RLS: the trigger ran as the app (it named the table, as its own UPDATE would)');
SELECT is((SELECT count(*) FROM mallory.seen WHERE what = 'reset role worked'), 0::bigint,
          'RLS: still security-restricted (no RESET ROLE)');
SELECT set_eq($$SELECT * FROM pg_temp.settings()$$, $$SELECT * FROM settings_before$$,
              'RLS: and every setting of the app''s session is as before');
SET LOCAL ROLE pgtap07_mallory;
ALTER TABLE mallory.runs DISABLE ROW LEVEL SECURITY;
RESET ROLE;

------------------------------------------------------------------------------
-- Claims obey the table's rules.
------------------------------------------------------------------------------
UPDATE app.runs SET status = 'running';
SET LOCAL ROLE pgtap07_mallory;
SELECT throws_ok($$SELECT recovery.claim('app.runs', '1.5')$$, '42501', NULL,
                 'mallory may not claim a run of a table it may not update');
RESET ROLE;
SET LOCAL ROLE pgtap07_app;
SELECT is(recovery.claim('app.runs', '1.5'), true, 'the app claims its run by the id it knows (1.5)');
SELECT is((SELECT run_id FROM recovery.claims WHERE run_table = 'app.runs'::regclass), '1.50',
          'the claim keys on the id as the table stores it (1.50)');
SELECT is(recovery.release('app.runs', '1.50'), true, 'and release with the other spelling ends it');
SELECT is(recovery.claim('app.runs', '1.5'), true, 'claimed again');
RESET ROLE;
-- Another role that may update the app's table, in the same session (a
-- claim belongs to the session): not the owner, so it may not end the
-- app's claim; nor take a live one over.
GRANT SELECT, UPDATE ON app.runs TO pgtap07_other;
SET LOCAL ROLE pgtap07_other;
SELECT is(recovery.release('app.runs', '1.5'), true,
          'the same session may end its own claim, whatever the role');
SELECT is(recovery.claim('app.runs', '1.5'), true, 'and claim it again');
RESET ROLE;
-- A live claim held by another backend (one that exists: the postmaster's
-- first child is not ours) is never taken over.
UPDATE recovery.claims SET backend_pid = (SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()
                                          AND backend_start IS NOT NULL ORDER BY backend_start LIMIT 1),
                           backend_start = (SELECT backend_start FROM pg_stat_activity WHERE pid <> pg_backend_pid()
                                            AND backend_start IS NOT NULL ORDER BY backend_start LIMIT 1)
WHERE run_table = 'app.runs'::regclass;
SET LOCAL ROLE pgtap07_other;
SELECT is(recovery.claim('app.runs', '1.5'), false, 'a live claim of another session is not taken over: false');
SELECT is(recovery.release('app.runs', '1.5'), false, 'nor ended by a role that does not own the table');
RESET ROLE;
SET LOCAL ROLE pgtap07_app;
SELECT is(recovery.release('app.runs', '1.5'), true, 'the table''s owner may end any claim of its table');
RESET ROLE;

-- citext ids: claimed and released whatever the case, through citext's own equality.
CREATE SCHEMA ext;
CREATE EXTENSION citext SCHEMA ext;
CREATE TABLE app.ci_runs (id ext.citext PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO app.ci_runs VALUES ('AbC', 'running', now());
SELECT recovery.watch('app.ci_runs', active_statuses => '{running}', failed_status => 'failed') AS w \gset
SELECT is(recovery.claim('app.ci_runs', 'abc'), true, 'citext: claim(''abc'') finds AbC');
SELECT is((SELECT run_id FROM recovery.claims WHERE run_table = 'app.ci_runs'::regclass), 'AbC',
          'citext: the claim keys on the stored id');
SELECT is(recovery.release('app.ci_runs', 'ABC'), true, 'citext: release(''ABC'') ends it');

------------------------------------------------------------------------------
-- What others may see: history and claims of tables they may not read.
------------------------------------------------------------------------------
SELECT ok((SELECT count(*) FROM recovery.history WHERE run_table = 'app.runs') > 0,
          'precondition: the app''s table has history');
SELECT is(recovery.claim('app.runs', '1.5'), true, 'precondition: and a claim (as superuser)');
SELECT max(id) AS app_history FROM recovery.history WHERE run_table = 'app.runs' \gset
SET LOCAL ROLE pgtap07_mallory;
SELECT is((SELECT count(*) FROM recovery.history WHERE run_table = 'app.runs'), 0::bigint,
          'mallory sees no history row of a table it may not read');
SELECT is((SELECT count(*) FROM recovery.claims WHERE run_table = 'app.runs'::regclass), 0::bigint,
          'nor its claims');
SELECT ok((SELECT count(*) FROM recovery.history WHERE run_table = 'mallory.runs') > 0,
          'but its own table''s history');
SELECT throws_ok(format('SELECT recovery.undo(%s)', :app_history),
                 '22023', NULL, 'and cannot undo what it cannot see');
RESET ROLE;
SET LOCAL ROLE pgtap07_app;
SELECT ok((SELECT count(*) FROM recovery.history WHERE run_table = 'mallory.runs') > 0,
          'the app was granted SELECT on mallory''s table: it sees that history');
RESET ROLE;

------------------------------------------------------------------------------
-- Robustness found on the way.
------------------------------------------------------------------------------
-- A run id longer than a NOTIFY payload allows.
CREATE TABLE app.long_ids (id text PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO app.long_ids VALUES (repeat('é', 6000), 'running', now() - interval '2 hours');
SELECT recovery.watch('app.long_ids', active_statuses => '{running}', failed_status => 'failed') AS w \gset
SELECT is((SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', run_table => 'app.long_ids')), 1::bigint,
          'a 12,000-byte run id does not fail its table''s recovery');
SELECT is((SELECT length(run_id) FROM recovery.history WHERE run_table = 'app.long_ids'), 6000,
          'history keeps the whole id');
-- Index names cut on a character boundary.
CREATE TABLE app."aééééééééééééééééééééééééééééééé" (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
SELECT lives_ok($$SELECT recovery.watch('app."aééééééééééééééééééééééééééééééé"', create_index => true)$$,
                'a multibyte table name: the index is created');
SELECT ok((SELECT bool_and(convert_from(convert_to(indexname, 'UTF8'), 'UTF8') = indexname AND octet_length(indexname) < 64)
           FROM pg_indexes WHERE schemaname = 'app' AND indexname LIKE '%recovery_stuck_idx'),
          'its name is valid UTF-8 under NAMEDATALEN');
-- Hints that show SQL quote names and literals.
CREATE TABLE app."we'ird" (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
SELECT throws_like($$SELECT recovery.find_stuck_runs('30 minutes', 'app."we''ird"')$$,
                   '%not watched%', 'an unwatched table with a quote in its name: 55000');
CREATE FUNCTION pg_temp.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN h;
END $$;
SELECT is(pg_temp.hint_of($$SELECT recovery.find_stuck_runs('30 minutes', 'app."we''ird"')$$),
          'Register it first: SELECT recovery.watch(''app."we''''ird"'');',
          'the hint''s SQL quotes the name as a literal (copy-paste safe)');
-- unwatch() and DROP TABLE leave no claims behind.
SELECT pg_temp.reset_mallory();
SELECT is(recovery.claim('mallory.runs', '1'), true, 'precondition: a claim on mallory''s table');
SELECT is(recovery.unwatch('mallory.runs'), true, 'unwatch');
SELECT is((SELECT count(*) FROM recovery.claims WHERE run_table = 'mallory.runs'::regclass), 0::bigint,
          'unwatch() leaves no claim behind');
SELECT is((SELECT count(*) FROM recovery.claims WHERE run_table = 'app.runs'::regclass), 1::bigint,
          'precondition: a claim on the app''s table');
DROP TABLE app.runs;
SELECT is((SELECT count(*) FROM recovery.claims WHERE run_table::oid NOT IN (SELECT oid FROM pg_class)), 0::bigint,
          'DROP TABLE leaves no orphaned claim behind');

SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'pgtap07_mallory'), false, 'in the end: mallory is not superuser');

SELECT * FROM finish();
ROLLBACK;
