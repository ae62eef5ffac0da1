# A worker never blocks DROP DATABASE, ALTER DATABASE … RENAME TO / SET
# TABLESPACE or CREATE DATABASE … TEMPLATE of its database: each succeeds
# without FORCE while the worker runs (idle, or in the middle of a cycle),
# and the worker comes back once the database is usable again. Someone who
# may not run the command cannot push the worker out with it.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use RecoveryTap;

my $node = worker_node('ddl', conf => "log_statement = none\n");

sub sql { my ($db, $q) = @_; return $node->safe_psql($db, $q) }
sub worker_pid
{
	my ($db) = @_;
	return sql('postgres', qq{SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity
	  WHERE backend_type = 'recovery worker' AND datname = '$db'});
}
sub wait_worker
{
	my ($db, $what) = @_;
	wait_for($node, 'postgres', qq{SELECT count(*) = 1 FROM pg_stat_activity
	  WHERE backend_type = 'recovery worker' AND datname = '$db'}, $what);
}
sub timed
{
	my ($db, $command, $what) = @_;
	my $t0 = time;
	my ($ret, $stdout, $stderr) = $node->psql($db, $command);
	my $took = time - $t0;
	is($ret, 0, "$what succeeds while the worker runs") or diag($stderr);
	# (A command that waited for the worker would fail after 5 s with
	# "being accessed by other users"; the bound leaves room for slow builds.)
	cmp_ok($took, '<', 10, sprintf('%s: promptly (%.2f s)', $what, $took));
	return;
}
my $stuck = q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('%s', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')};

setup_app($node, 'app');
wait_worker('app', 'the worker runs in app');
my $offset = -s $node->logfile;

# ALTER DATABASE … RENAME TO: done, and the worker is back under the new name.
my $before = worker_pid('app');
timed('postgres', 'ALTER DATABASE app RENAME TO app_renamed', 'ALTER DATABASE RENAME');
wait_worker('app_renamed', 'the worker is back in the renamed database');
isnt(worker_pid('app_renamed'), $before, 'a new worker');
sql('app_renamed', sprintf($stuck, 'after-rename'));
wait_for($node, 'app_renamed', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'after-rename'},
	'and it recovers there');
is(sql('app_renamed', q{SELECT database FROM recovery.worker_status()}), 'app_renamed',
	'worker_status() has the new name');

# CREATE DATABASE … TEMPLATE: done; the source has its worker again and the
# copy (which has the extension) gets its own.
timed('postgres', 'CREATE DATABASE copy TEMPLATE app_renamed', 'CREATE DATABASE TEMPLATE');
wait_worker('app_renamed', 'the source database has its worker again');
wait_worker('copy', 'the copy gets a worker of its own');
sql('copy', sprintf($stuck, 'in-copy'));
wait_for($node, 'copy', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'in-copy'},
	'which recovers the copy\'s runs');

# ALTER DATABASE … SET TABLESPACE also needs the database to itself.
my $location = PostgreSQL::Test::Utils::tempdir();
sql('postgres', "CREATE TABLESPACE elsewhere LOCATION '$location'");
timed('postgres', 'ALTER DATABASE copy SET TABLESPACE elsewhere', 'ALTER DATABASE SET TABLESPACE');
wait_worker('copy', 'the worker is back after the move');

# DROP DATABASE: done, and no worker is left or comes back.
timed('postgres', 'DROP DATABASE copy', 'DROP DATABASE');
sleep 2;
is(worker_pid('copy'), '', 'no worker for the dropped database');
is(worker_pid('app_renamed') ne '', 1, 'the other database keeps its worker');

# In the middle of a cycle (a slow trigger: the worker is inside a
# transaction), a copy still succeeds: the worker's statement is cancelled,
# its batch rolled back whole, and it comes back to finish.
sql('app_renamed', q{
	CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN PERFORM pg_sleep(0.05); RETURN NEW; END $$;
	CREATE TRIGGER slow BEFORE UPDATE ON qualification_runs FOR EACH ROW EXECUTE FUNCTION slow_down();
	INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
	SELECT 'busy-' || g, 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours'
	FROM generate_series(1, 200) g;
});
wait_for($node, 'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'recovery worker'
  AND datname = 'app_renamed' AND state = 'active' AND wait_event = 'PgSleep'}, 'the worker is mid-cycle');
timed('postgres', 'CREATE DATABASE busy_copy TEMPLATE app_renamed', 'CREATE DATABASE TEMPLATE of a busy worker\'s database');
wait_for($node, 'app_renamed', q{SELECT count(*) = 200 FROM qualification_runs WHERE id LIKE 'busy-%' AND status = 'FAILED'},
	'the worker comes back and finishes the job');
is(agreement_mismatches($node, 'app_renamed'), '0', 'statuses and history agree row for row');
is(sql('busy_copy', q{SELECT count(*) FROM qualification_runs q WHERE q.status = 'FAILED'
  AND NOT EXISTS (SELECT 1 FROM recovery.history h WHERE h.run_id = q.id)}), '0',
	'the copy was taken between whole batches');
sql('postgres', 'DROP DATABASE busy_copy');

# A rename in an open transaction: no worker until it commits.
my $session = $node->background_psql('postgres');
$session->query_safe('BEGIN');
$session->query_safe('ALTER DATABASE app_renamed RENAME TO app_again');
sleep 2;
is(worker_pid('app_renamed') . worker_pid('app_again'), '', 'no worker while the rename is not committed');
$session->query_safe('COMMIT');
$session->quit;
wait_worker('app_again', 'committed: the worker is back');

# A role that may not drop the database does not make the worker leave.
sql('postgres', 'CREATE ROLE intruder LOGIN CREATEDB');
$before = worker_pid('app_again');
my ($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE app_again', extra_params => ['-U', 'intruder']);
isnt($ret, 0, 'a non-owner cannot drop the database');
like($err, qr/must be owner of database app_again/, 'permission denied, as without recovery');
is(worker_pid('app_again'), $before, 'and the worker did not move');

my $log = substr(slurp_file($node->logfile), $offset);
like($log, qr/recovery worker: leaving database "app" for ALTER DATABASE RENAME/, 'the worker says why it leaves');
like($log, qr/recovery worker: leaving database "copy" for DROP DATABASE/, 'for each command');
unlike($log, qr/being accessed by other users|FATAL|PANIC|WARNING:  recovery/, 'no "being accessed", FATAL or warning');
unlike($log, qr/LOG:  recovery worker: recovering .*canceling statement/, 'the cancelled batch is not logged as a problem');

$node->stop;
done_testing();
