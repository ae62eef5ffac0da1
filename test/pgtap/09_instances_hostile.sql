-- App instances against another role: mallory holds the app's token (it
-- leaked) and may update the app's table, yet cannot renew, stop, supersede
-- or claim with the app's incarnation, cannot take over its claims, and
-- sees neither its rows nor any token hash. Nothing mallory tries changes
-- anything. Roles are named pgtap09_* and created inside this transaction,
-- so the final ROLLBACK removes them.
BEGIN;
SELECT plan(27);

SET LOCAL client_min_messages = warning;
CREATE ROLE pgtap09_app;
CREATE ROLE pgtap09_mallory;
CREATE SCHEMA app09 AUTHORIZATION pgtap09_app;
GRANT USAGE ON SCHEMA app09 TO PUBLIC;

SET LOCAL ROLE pgtap09_app;
CREATE TABLE app09.runs (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO app09.runs VALUES (1, 'running', now()), (2, 'running', now()), (3, 'running', now());
GRANT SELECT, UPDATE ON app09.runs TO pgtap09_mallory;
SELECT recovery.watch('app09.runs', active_statuses => '{running}', failed_status => 'failed') AS w \gset
SELECT recovery.instance_start('pgtap09-web', '1 hour') AS token \gset
SELECT is(recovery.claim('app09.runs', '1', :'token'), true, 'the app claims run 1 with its instance');
SELECT is((SELECT state FROM recovery.instances WHERE name = 'pgtap09-web'), 'alive', 'the app sees its instance');
SELECT throws_ok($$SELECT token_hash FROM recovery.instance_incarnations$$, '42501', NULL,
                 'not even the app may read a token hash');
RESET ROLE;

CREATE TEMP TABLE before AS
    SELECT id, last_heartbeat_at, ended_at FROM recovery.instance_incarnations WHERE instance = 'pgtap09-web';
SELECT is((SELECT count(*) FROM recovery.instance_incarnations
           WHERE instance = 'pgtap09-web' AND token_hash = pg_catalog.sha256(convert_to(:'token', 'UTF8'))), 1::bigint,
          'the table stores the token''s sha256');
SELECT is((SELECT count(*) FROM recovery.instance_incarnations AS i
           WHERE i::text LIKE '%' || :'token' || '%'), 0::bigint, 'and nowhere the token itself');

SET LOCAL ROLE pgtap09_mallory;
SELECT is((SELECT count(*) FROM recovery.instances WHERE name = 'pgtap09-web'), 0::bigint,
          'mallory does not see the app''s instance in the view');
SELECT is((SELECT count(*) FROM recovery.instance_incarnations), 0::bigint, 'nor in the table');
SELECT throws_ok($$SELECT token_hash FROM recovery.instance_incarnations$$, '42501', NULL,
                 'mallory may not read token hashes');
SELECT throws_ok(format('SELECT recovery.instance_heartbeat(%L)', :'token'), '42501', NULL,
                 'mallory cannot renew the app''s incarnation with its token');
SELECT throws_ok(format('SELECT recovery.instance_stop(%L)', :'token'), '42501', NULL,
                 'nor stop it');
SELECT throws_ok($$SELECT recovery.instance_start('pgtap09-web')$$, '42501', NULL,
                 'nor start (supersede) an incarnation of the app''s name');
SELECT throws_ok(format('SELECT recovery.claim(%L, %L, %L)', 'app09.runs', '2', :'token'), '42501', NULL,
                 'nor claim a run with the app''s token');
SELECT is(recovery.claim('app09.runs', '1'), false, 'a session claim does not take over the incarnation''s run');
SELECT is(recovery.release('app09.runs', '1'), false, 'nor does release end it');
SELECT throws_ok($$INSERT INTO recovery.instance_incarnations (instance, token_hash, role_name, started_at,
                   last_heartbeat_at, lease) VALUES ('x', '\x00', 'pgtap09_mallory', now(), now(), '1 hour')$$,
                 '42501', NULL, 'mallory cannot write the table directly');
SELECT throws_ok($$UPDATE recovery.claims SET incarnation = NULL$$, '42501', NULL, 'nor the claims');
-- Mallory's own instance works, and its token does not reach the app's runs' claims.
SELECT recovery.instance_start('pgtap09-mallory') AS mtoken \gset
SELECT is(recovery.claim('app09.runs', '1', :'mtoken'), false, 'mallory''s own incarnation cannot take the app''s live claim');
SELECT is(recovery.claim('app09.runs', '3', :'mtoken'), true, 'but claims a free run it may update');
RESET ROLE;

SELECT is((SELECT count(*) FROM recovery.instance_incarnations AS i JOIN before AS b USING (id)
           WHERE i.last_heartbeat_at = b.last_heartbeat_at AND i.ended_at IS NULL), 1::bigint,
          'nothing mallory tried changed the app''s incarnation');
SELECT is((SELECT count(*) FROM recovery.instance_incarnations WHERE instance = 'pgtap09-web'), 1::bigint,
          'no other incarnation of the app''s name');
SELECT is((SELECT i.instance FROM recovery.claims AS c JOIN recovery.instance_incarnations AS i ON i.id = c.incarnation
           WHERE c.run_table = 'app09.runs'::regclass AND c.run_id = '1'), 'pgtap09-web', 'run 1 is still the app''s');
SELECT is((SELECT role_name::text FROM recovery.instance_incarnations WHERE instance = 'pgtap09-mallory'), 'pgtap09_mallory',
          'mallory''s instance is mallory''s');

SET LOCAL ROLE pgtap09_app;
SELECT is((SELECT count(*) FROM recovery.instances WHERE name = 'pgtap09-mallory'), 0::bigint,
          'the app does not see mallory''s instance');
SELECT throws_ok(format('SELECT recovery.instance_stop(%L)', :'mtoken'), '42501', NULL,
                 'nor may it stop mallory''s');
SELECT is(recovery.instance_heartbeat(:'token'), true, 'the app renews its own');
RESET ROLE;
-- A superuser may renew and stop any incarnation.
SELECT is(recovery.instance_heartbeat(:'mtoken'), true, 'a superuser renews mallory''s incarnation');
SELECT is(recovery.instance_stop(:'mtoken'), 1, 'and stops it: one claimed run');

SELECT * FROM finish();
ROLLBACK;
