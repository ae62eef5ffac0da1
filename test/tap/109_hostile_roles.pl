# Hostile roles against callers the pgTAP suite cannot be (test/pgtap/
# 07_hostile_roles.sql covers psql sessions): the background worker as a
# superuser and as recovery.worker_role (its sweep of finished claims
# too), watch()'s planning in a fresh
# session, CREATE EXTENSION over a schema another role owns, and what a
# listener gets (notify => false, run ids too long for a payload). Mallory,
# an ordinary role, owns only its own watched tables; its code records who
# ran it, tries to make mallory superuser and to leave settings behind.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

my $node = worker_node('hostile', conf => qq{
recovery.enabled = off
recovery.statement_timeout = '2s'
});
watch_seed($node, 'postgres');

$node->safe_psql('postgres', q{
CREATE ROLE mallory;
CREATE SCHEMA mallory AUTHORIZATION mallory;
SET ROLE mallory;
CREATE TABLE mallory.seen (what text, by_role name, superuser boolean, search_path text);
CREATE FUNCTION mallory.attack(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mallory.seen SELECT what, current_user, r.rolsuper, current_setting('search_path')
    FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user;
    PERFORM pg_catalog.set_config('search_path', 'mallory, pg_catalog', false);
    PERFORM pg_catalog.set_config('default_transaction_read_only', 'on', false);
    BEGIN
        EXECUTE 'ALTER ROLE mallory SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
END $$;
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
CREATE TABLE mallory.runs (id text PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
CREATE TRIGGER on_update BEFORE UPDATE ON mallory.runs FOR EACH ROW EXECUTE FUNCTION mallory.on_update();
SELECT recovery.watch('mallory.runs', active_statuses => '{running}', failed_status => 'failed');
-- A table whose trigger sleeps: it must delay only itself.
CREATE FUNCTION mallory.sleep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.pg_sleep(30);
    RETURN NEW;
END $$;
CREATE TABLE mallory.sleepy (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
CREATE TRIGGER sleep BEFORE UPDATE ON mallory.sleepy FOR EACH ROW EXECUTE FUNCTION mallory.sleep();
SELECT recovery.watch('mallory.sleepy', active_statuses => '{running}', failed_status => 'failed');
-- An index expression the planner folds (IMMUTABLE, no argument): planning
-- a query on the table runs it. It counts who ran it and moves search_path.
CREATE SEQUENCE mallory.as_superuser;
CREATE SEQUENCE mallory.as_owner;
CREATE FUNCTION mallory.probe() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        PERFORM pg_catalog.nextval('mallory.as_superuser');
    ELSE
        PERFORM pg_catalog.nextval('mallory.as_owner');
    END IF;
    PERFORM pg_catalog.set_config('search_path', 'mallory, pg_catalog', false);
    RETURN 1;
END $$;
CREATE TABLE mallory.planned (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX planned_probe ON mallory.planned ((mallory.probe()));
});
my $owner_probes = $node->safe_psql('postgres', q{SELECT last_value FROM mallory.as_owner});

# watch() by a superuser in a fresh session plans the table's index check.
my $watch = $node->safe_psql('postgres', q{
SELECT recovery.watch('mallory.planned', active_statuses => '{running}', failed_status => 'failed');
SHOW search_path;
SHOW default_transaction_read_only;});
is($watch, "t\n\"\$user\", public\noff", 'watch() by a superuser: the session\'s settings are its own afterwards');
ok($node->safe_psql('postgres', q{SELECT last_value FROM mallory.as_owner}) > $owner_probes,
	'watch(): planning did run the index expression');
is($node->safe_psql('postgres', q{SELECT is_called FROM mallory.as_superuser}), 'f',
	'watch(): never with superuser rights');

# The worker, as the bootstrap superuser.
$node->safe_psql('postgres', q{
INSERT INTO mallory.runs VALUES ('m1', 'running', now() - interval '2 hours');
INSERT INTO mallory.sleepy VALUES (1, 'running', now() - interval '2 hours');
INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('seed-1', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours');
ALTER SYSTEM SET recovery.enabled = on;
SELECT pg_reload_conf();});
wait_for($node, 'postgres', q{SELECT status = 'failed' FROM mallory.runs WHERE id = 'm1'},
	'worker (superuser): mallory\'s stuck run is recovered');
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'seed-1'},
	'worker (superuser): and the seed table\'s');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT what || ' as ' || by_role || ' superuser=' || superuser, ', ') FROM mallory.seen}),
	'trigger as mallory superuser=false', 'worker (superuser): mallory\'s trigger ran as mallory, and only the trigger');
is($node->safe_psql('postgres', q{SELECT DISTINCT search_path FROM mallory.seen}), 'pg_catalog, pg_temp',
	'worker (superuser): with search_path pinned to pg_catalog, pg_temp');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'worker (superuser): mallory is not superuser');

# A trigger that sleeps delays only its own table: the worker goes on.
my $t0 = time;
$node->safe_psql('postgres', q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('seed-2', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'seed-2'},
	'a sleeping trigger on another table does not stop the worker');
my $elapsed = time - $t0;
ok($elapsed < 20, "the next stuck run was recovered in ${elapsed}s (statement timeout 2 s per table)");
is($node->safe_psql('postgres', q{SELECT status FROM mallory.sleepy}), 'running', 'the sleeping table is rolled back');
sleep 5;    # several more cycles
my $log = slurp_file($node->logfile);
my $timeouts = () = $log =~ /LOG:  canceling statement due to statement timeout/g;
is($timeouts, 1, 'the statement timeout is logged once, not every cycle');
like($log, qr/canceling statement due to statement timeout\n(?:.*\n)*?.*recovering mallory\.sleepy/,
	'naming the table');

# The worker's sweep of finished claims reads mallory's table as the table's
# code. The index expression that planning runs (mallory.probe) never runs
# with superuser rights; a row-level security policy (forced on mallory, so
# table code meets it where a superuser would not) runs as mallory, with
# search_path pinned, and its settings do not outlive it. (The policy is
# reached for the active run, s2: the finished one's status test, leakproof,
# comes first.) Mallory's own writes go through mallory.
$node->safe_psql('postgres', q{
SET ROLE mallory;
CREATE FUNCTION mallory.policy(id text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mallory.attack('policy');
    RETURN true;
END $$;
CREATE TABLE mallory.swept (id text PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO mallory.swept VALUES ('s1', 'running', now()), ('s2', 'running', now());
SELECT recovery.watch('mallory.swept', active_statuses => '{running}', failed_status => 'failed');
CREATE INDEX swept_probe ON mallory.swept ((mallory.probe()));
ALTER TABLE mallory.swept ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p ON mallory.swept USING (mallory.policy(id));});
my $holder = $node->background_psql('postgres');    # a superuser's session keeps the claim alive
$holder->query_safe(q{SELECT recovery.claim('mallory.swept', 's1'), recovery.claim('mallory.swept', 's2')});
$node->safe_psql('postgres', q{SET ROLE mallory; UPDATE mallory.swept SET status = 'done' WHERE id = 's1'});
$node->safe_psql('postgres', q{DELETE FROM mallory.seen});
my $probes_before = $node->safe_psql('postgres', q{SELECT last_value FROM mallory.as_owner});
wait_for($node, 'postgres', q{SELECT string_agg(run_id, ',') = 's2' FROM recovery.claims WHERE run_table = 'mallory.swept'::regclass},
	'worker (superuser): the claim of mallory\'s finished run is swept');
# (Within one scope the policy may see the search_path its earlier call set.)
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT what || ' as ' || by_role || ' superuser=' || superuser,
	', ') || ', pinned first: ' || bool_or(search_path = 'pg_catalog, pg_temp') FROM mallory.seen}),
	'policy as mallory superuser=false, pinned first: true',
	'worker\'s sweep: mallory\'s policy ran as mallory, search_path pinned');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'worker\'s sweep: mallory is not superuser');
ok($node->safe_psql('postgres', q{SELECT last_value FROM mallory.as_owner}) > $probes_before,
	'worker\'s sweep: planning ran mallory\'s index expression');
is($node->safe_psql('postgres', q{SELECT is_called FROM mallory.as_superuser}), 'f',
	'worker\'s sweep: never with superuser rights');
$node->safe_psql('postgres', q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('seed-swept', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'seed-swept'},
	'worker\'s sweep: the worker still writes afterwards (the read-only setting the policy tried to leave is gone)');
$holder->quit;
$node->safe_psql('postgres', q{SET ROLE mallory; SELECT recovery.unwatch('mallory.swept')});

# The worker as a non-superuser recovery.worker_role: it covers the tables
# whose owners' privileges it has, and never runs another owner's code.
$node->safe_psql('postgres', q{
DELETE FROM mallory.seen;
CREATE ROLE app_owner;
ALTER TABLE qualification_runs OWNER TO app_owner;
CREATE ROLE recovery_bot LOGIN IN ROLE app_owner;
GRANT SELECT, UPDATE ON mallory.runs TO recovery_bot;
ALTER SYSTEM SET recovery.worker_role = 'recovery_bot';
SELECT pg_reload_conf();});
wait_for($node, 'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'recovery worker'
  AND usename = 'recovery_bot'}, 'the worker restarts as recovery_bot');
$node->safe_psql('postgres', q{
INSERT INTO mallory.runs VALUES ('m2', 'running', now() - interval '2 hours');
INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('seed-3', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours');});
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'seed-3'},
	'worker as recovery_bot: recovers the table of the role it belongs to');
is($node->safe_psql('postgres', q{SELECT recovered_by FROM recovery.history WHERE run_id = 'seed-3'}),
	'recovery_bot', 'as recovery_bot');
sleep 4;
is($node->safe_psql('postgres', q{SELECT status FROM mallory.runs WHERE id = 'm2'}), 'running',
	'worker as recovery_bot: mallory\'s table is not its to cover, even with a grant');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mallory.seen}), '0', 'and none of mallory\'s code ran');
like(slurp_file($node->logfile), qr/recovery worker: leaving out 3 watched table\(s\)/,
	'the worker says once which tables it leaves out');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET recovery.worker_role; ALTER SYSTEM SET recovery.enabled = off;
  SELECT pg_reload_conf();});
is($node->safe_psql('postgres', q{SELECT is_called FROM mallory.as_superuser}), 'f',
	'after all the worker\'s cycles: mallory\'s index expression never ran with superuser rights');

# What a listener gets: nothing from a table watched with notify => false; a
# shortened id (flagged) for an id too long for a payload, whose recovery
# does not fail.
my ($out, $err) = ('', '');
$node->psql('postgres', q{
CREATE TABLE quiet (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
SELECT recovery.watch('quiet', active_statuses => '{running}', failed_status => 'failed', notify => false);
INSERT INTO quiet VALUES (1, 'running', now() - interval '2 hours');
CREATE TABLE long_ids (id text PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
SELECT recovery.watch('long_ids', active_statuses => '{running}', failed_status => 'failed');
INSERT INTO long_ids VALUES (repeat('é', 6000), 'running', now() - interval '2 hours');
LISTEN recovery;
SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', run_table => 'quiet');
SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', run_table => 'long_ids');
SELECT 1;}, stdout => \$out, stderr => \$err);
my @notes = grep { $_->{channel} eq 'recovery' } parse_notifications($out);
is(scalar(@notes), 1, 'one notification: none from the notify => false table') or diag($out . $err);
is($notes[0]{json}{run_table} // '', 'public.long_ids', 'it is the long id\'s');
is($notes[0]{json}{run_id_truncated} ? 1 : 0, 1, 'flagged as shortened');
my $short_id = $notes[0]{json}{run_id} // '';
is(length($short_id), 1024, 'to 1,024 bytes');
ok(utf8::decode($short_id) && length($short_id) == 512, 'cut on a character boundary (512 whole characters)');
is($node->safe_psql('postgres', q{SELECT status FROM quiet}), 'failed', 'the quiet table is recovered');
is($node->safe_psql('postgres', q{SELECT length(run_id) FROM recovery.history WHERE run_table = 'public.long_ids'}),
	'6000', 'history keeps the whole long id');

# CREATE EXTENSION refuses a schema "recovery" that an ordinary role owns.
$node->safe_psql('postgres', q{CREATE DATABASE trap; CREATE ROLE squatter});
$node->safe_psql('trap', q{CREATE SCHEMA recovery AUTHORIZATION squatter});
my ($rc, $stdout, $stderr) = $node->psql('trap', 'CREATE EXTENSION recovery', extra_params => [ '-v', 'VERBOSITY=verbose' ]);
is(sqlstate_of($stderr), '42501', 'CREATE EXTENSION over a squatted schema: 42501');
like($stderr, qr/schema "recovery" is owned by role "squatter"/, 'naming the owner');
like($stderr, qr/HINT:  ALTER SCHEMA recovery OWNER TO/, 'with a hint');
is($node->safe_psql('trap', q{SELECT count(*) FROM pg_extension WHERE extname = 'recovery'}), '0', 'nothing installed');
$node->safe_psql('trap', q{ALTER SCHEMA recovery OWNER TO CURRENT_USER; CREATE EXTENSION recovery});
is($node->safe_psql('trap', q{SELECT extversion FROM pg_extension WHERE extname = 'recovery'}), '0.2.0',
	'after the hint, it installs');

$node->stop;
done_testing();
