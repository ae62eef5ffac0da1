
# Crash atomicity: a recover_stuck_runs call over many runs is killed in the
# middle, (a) by SIGKILL of its backend (the postmaster then resets every
# backend and runs crash recovery), (b) by an immediate shutdown. Afterwards
# statuses and recovery.history agree row for row: no FAILED run without its
# history row, no history row without its FAILED run. A normal call then
# finishes the job, with exactly one history row per recovered run.
#
# The call is paused at a known point with advisory locks: a test trigger
# waits for lock 1 on the 1000th run it updates, another waits for lock 2
# once recovery has written its second chunk of 1000 history rows. The test
# holds the lock, sees the recovering backend wait for it, and kills it.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

my $stuck = 2500;    # more than two of recovery's 1000-row chunks

my $node = app_node('crash', conf => "restart_after_crash = on\n");
setup_app($node, 'app');
$node->safe_psql(
	'app', qq{
	INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt")
	SELECT format('run-%s', lpad(g::text, 5, '0')), 'icp1',
	       (CASE WHEN g % 3 = 0 THEN 'PENDING' ELSE 'PROCESSING' END)::"RunStatus", 10, g % 10,
	       (now() AT TIME ZONE 'UTC') - make_interval(mins => 60 + g)
	FROM generate_series(1, $stuck) AS g;
	-- a live run, never to be touched
	INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
	VALUES ('alive', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 minutes');

	CREATE SEQUENCE test_updates;
	CREATE FUNCTION test_pause_update() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN
	    IF nextval('public.test_updates') = 1000 THEN
	        PERFORM pg_advisory_xact_lock_shared(1);
	    END IF;
	    RETURN NEW;
	END \$\$;
	CREATE TRIGGER test_pause BEFORE UPDATE ON qualification_runs
	    FOR EACH ROW EXECUTE FUNCTION test_pause_update();

	-- recovery pins search_path = pg_catalog, pg_temp: names are qualified.
	-- History rows of the current transaction have recovered_at = now().
	CREATE FUNCTION test_pause_history() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN
	    IF (SELECT count(*) FROM recovery.history WHERE recovered_at = now()) > 1000 THEN
	        PERFORM pg_advisory_xact_lock_shared(2);
	    END IF;
	    RETURN NULL;
	END \$\$;
	CREATE TRIGGER test_pause AFTER INSERT ON recovery.history
	    FOR EACH STATEMENT EXECUTE FUNCTION test_pause_history();
});

my $status_sql = q{
	SELECT string_agg(status || '=' || n, ',' ORDER BY status)
	FROM (SELECT status::text, count(*) AS n FROM qualification_runs GROUP BY 1) s};

# A first, committed recovery of the 500 oldest runs: what must survive.
is( $node->safe_psql('app',
		q{SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', max_runs => 500)}),
	'500',
	'a committed call recovers 500 runs');
my $after_first = $node->safe_psql('app', $status_sql);
like($after_first, qr/^FAILED=500,PENDING=\d+,PROCESSING=\d+$/, "statuses after the first call: $after_first");

# Starts a recovery of every stuck run that will wait on advisory lock $key,
# held by a second session. Returns (holder, recoverer, recoverer's pid) once
# the recovering backend is seen waiting.
sub paused_recovery
{
	my ($key) = @_;
	$node->safe_psql('app', q{SELECT setval('public.test_updates', 1, false)});
	my $holder = $node->background_psql('app');
	$holder->query_safe("SELECT pg_advisory_lock($key)");
	my $recoverer = $node->background_psql('app');
	my $pid = $recoverer->query_safe('SELECT pg_backend_pid()');
	$recoverer->query_until(qr/recovering/, q{\echo recovering
SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes');
});
	ok( $node->poll_query_until(
			'app', qq{SELECT count(*) FROM pg_locks WHERE pid = $pid
			          AND locktype = 'advisory' AND objid = $key AND NOT granted}, '1'),
		"recovering backend $pid is paused on lock $key");
	return ($holder, $recoverer, $pid);
}

# After a crash: the server accepts connections again and nothing is half-done.
sub check_consistent
{
	my ($what) = @_;
	ok($node->poll_query_until('app', 'SELECT 1', '1'), "$what: server is back");
	is($node->safe_psql('app', $status_sql),
		$after_first, "$what: only the committed call's 500 runs are FAILED");
	is($node->safe_psql('app', 'SELECT count(*) FROM recovery.history'),
		'500', "$what: history has only the committed call's 500 rows");
	is(agreement_mismatches($node, 'app'),
		'0', "$what: statuses and history agree row for row");
	return;
}

sub quit_quietly
{
	for my $session (@_) { eval { $session->quit; 1 }; }
	return;
}

# (a) SIGKILL of the recovering backend while it is updating the runs.
{
	my ($holder, $recoverer, $pid) = paused_recovery(1);
	is($holder->query_safe('SELECT last_value FROM test_updates'),
		'1000', '(a) the call is mid-way: 999 runs updated, the 1000th waiting');
	my $log_offset = -s $node->logfile;
	is(kill('KILL', $pid), 1, "(a) SIGKILL sent to backend $pid");
	# 15 names the backend "server process", 18 by its type, "client backend".
	$node->wait_for_log(qr/(?:server process|client backend) \(PID $pid\) was terminated by signal 9/,
		$log_offset);
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	pass('(a) the postmaster reset every backend after the crash');
	quit_quietly($recoverer, $holder);
	check_consistent('(a) after SIGKILL');
}

# (b) Immediate shutdown while the history of the call is half written: all
# runs updated, the first 1000 history rows and their NOTIFYs done.
{
	my ($holder, $recoverer, $pid) = paused_recovery(2);
	is( $holder->query_safe('SELECT last_value FROM test_updates'),
		$stuck - 500,
		'(b) the call has updated all 2000 remaining runs');
	is( $holder->query_safe(
			q{SELECT state || ' ' || wait_event_type FROM pg_stat_activity WHERE pid = } . $pid),
		'active Lock',
		'(b) and is waiting inside the call');
	$node->stop('immediate');
	quit_quietly($recoverer, $holder);
	$node->start;
	check_consistent('(b) after immediate stop');
}

# A normal call finishes the job.
$node->safe_psql(
	'app', q{
	DROP TRIGGER test_pause ON qualification_runs;
	DROP TRIGGER test_pause ON recovery.history;
});
is( $node->safe_psql('app',
		q{SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')}),
	$stuck - 500,
	'a normal call recovers the 2000 runs left');
is($node->safe_psql('app', $status_sql),
	"FAILED=$stuck,PROCESSING=1", 'every stuck run is FAILED, the live one is not');
is( $node->safe_psql(
		'app', q{SELECT count(*), count(DISTINCT run_id), count(*) FILTER (WHERE new_status = 'FAILED')
		         FROM recovery.history}),
	"$stuck|$stuck|$stuck",
	'history has exactly one row per recovered run');
is(agreement_mismatches($node, 'app'), '0', 'statuses and history agree row for row');
is( $node->safe_psql(
		'app', q{SELECT count(*) FROM qualification_runs r JOIN recovery.history h ON h.run_id = r.id
		         WHERE h.previous_status <> CASE WHEN substr(r.id, 5)::int % 3 = 0
		                                         THEN 'PENDING' ELSE 'PROCESSING' END}),
	'0',
	'history keeps each run\'s real previous status');
is($node->safe_psql('app', q{SELECT count(*) FROM recovery.find_stuck_runs('30 minutes')}),
	'0', 'nothing is stuck any more');

$node->stop;
done_testing();
