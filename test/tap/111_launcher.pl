# The launcher, with nothing configured but shared_preload_libraries: a
# worker appears in a database within seconds of CREATE EXTENSION (no
# restart, no setting) and recovers its stuck runs; one worker per database;
# DROP EXTENSION stops it; a database that disallows connections is left;
# recovery.databases and recovery.max_workers follow reloads; no database
# that refuses connections (template0) is ever tried; nothing starts in
# binary-upgrade mode (pg_upgrade).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use RecoveryTap;

my $node = PostgreSQL::Test::Cluster->new('launcher');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recovery'\n");
$node->start;

sub sql { my ($db, $q) = @_; return $node->safe_psql($db, $q) }
sub workers_in
{
	my ($db) = @_;
	return sql('postgres', qq{SELECT count(*) FROM pg_stat_activity
	  WHERE backend_type = 'recovery worker' AND datname = '$db'});
}
sub wait_workers
{
	my ($db, $n, $what) = @_;
	wait_for($node, 'postgres', qq{SELECT count(*) = $n FROM pg_stat_activity
	  WHERE backend_type = 'recovery worker' AND datname = '$db'}, $what);
}
my $stuck = q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('%s', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')};

wait_for($node, 'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'recovery launcher'},
	'one launcher runs');
ok($node->log_contains(qr/recovery launcher: started \(recovery\.databases: every database; recovery\.max_workers: 4\)/),
	'the launcher says how it is configured');
wait_for($node, 'postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'recovery worker'},
	'no worker where the extension is not');

# A new database: schema, extension, watched table and a stuck run in one
# transaction; the worker comes with the commit and recovers the run in its
# first cycle (the default naptime is a minute: only a new worker is this fast).
sql('postgres', 'CREATE DATABASE app');
my $root = $ENV{RECOVERY_ROOT} // "$FindBin::RealBin/../..";
sql('app', slurp_file("$root/demo/seed-schema.sql"));
my $t0 = time;
sql('app', q{BEGIN;
  CREATE EXTENSION recovery;
  INSERT INTO "Company" VALUES ('co1', 'Acme', 'acme.test');
  INSERT INTO "ICP" VALUES ('icp1', 'CTOs', 'co1');
  SELECT recovery.watch('qualification_runs');
} . sprintf($stuck, 'first') . '; COMMIT;');
wait_for($node, 'app', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'first'},
	'the stuck run of a database created after start is recovered without a restart');
my $took = time - $t0;
cmp_ok($took, '<', 10, sprintf('within seconds of CREATE EXTENSION (%.1f s)', $took));
is(workers_in('app'), '1', 'one worker, connected to app');
is(sql('app', q{SELECT database || ' ' || state || ' ' || total_recovered FROM recovery.worker_status()}),
	'app idle 1', 'worker_status() shows it');
ok($node->log_contains(qr/recovery worker: started in database "app"/), 'it says it started');

# A second database gets its own worker; run_worker_now() reaches each.
sql('postgres', 'CREATE DATABASE other TEMPLATE template0');
watch_seed($node, 'other');
wait_workers('other', 1, 'a second database gets its own worker');
wait_for($node, 'app', q{SELECT count(*) = 2 FROM recovery.worker_status()}, 'worker_status() lists both');
is(sql('other', q{SELECT recovery.run_worker_now('app') AND recovery.run_worker_now()}), 't',
	'run_worker_now() finds both workers');
is(workers_in('app'), '1', 'still one worker in app');

# DROP EXTENSION stops the worker, CREATE EXTENSION brings it back.
sql('other', 'DROP EXTENSION recovery');
$t0 = time;
wait_workers('other', 0, 'DROP EXTENSION stops the worker');
cmp_ok(time - $t0, '<', 10, 'within seconds');
ok($node->log_contains(qr/recovery worker: the extension is gone from database "other": the worker stops/),
	'it says why');
is(sql('app', q{SELECT string_agg(database, ',') FROM recovery.worker_status()}), 'app',
	'worker_status() no longer lists it');
sql('other', q{CREATE EXTENSION recovery; SELECT recovery.watch('qualification_runs')});
wait_workers('other', 1, 'CREATE EXTENSION again: the worker is back');
sql('other', sprintf($stuck, 'second'));
sql('other', 'SELECT recovery.run_worker_now()');
wait_for($node, 'other', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'second'},
	'and recovers');

# A database that stops allowing connections is left, and found again.
sql('postgres', 'ALTER DATABASE other ALLOW_CONNECTIONS false');
wait_workers('other', 0, 'ALLOW_CONNECTIONS false: the worker leaves');
sql('postgres', 'ALTER DATABASE other ALLOW_CONNECTIONS true');
wait_workers('other', 1, 'ALLOW_CONNECTIONS true: it is back');

# recovery.databases limits the databases, and follows reloads.
my $offset = -s $node->logfile;
sql('postgres', q{ALTER SYSTEM SET recovery.databases = 'app, nosuch'; SELECT pg_reload_conf()});
wait_workers('other', 0, 'recovery.databases without "other": its worker leaves');
is(workers_in('app'), '1', 'the listed database keeps its worker');
$node->wait_for_log(qr/recovery launcher: database "nosuch" in recovery\.databases does not exist/, $offset);
sleep 2;
my $log = substr(slurp_file($node->logfile), $offset);
is(scalar(() = $log =~ /"nosuch" in recovery\.databases does not exist/g), 1, 'a missing listed database is said once');
like($log, qr/recovery worker: leaving database "other" for recovery\.databases/, 'the worker says why it leaves');
sql('postgres', q{ALTER SYSTEM RESET recovery.databases; SELECT pg_reload_conf()});
wait_workers('other', 1, 'reset: "other" has its worker again');

# recovery.max_workers bounds the workers; a database beyond it waits, said once.
$offset = -s $node->logfile;
sql('postgres', q{ALTER SYSTEM SET recovery.max_workers = 1; SELECT pg_reload_conf()});
wait_workers('other', 0, 'max_workers 1: the newest database gives its worker back');
is(workers_in('app'), '1', 'the other keeps its worker');
$node->wait_for_log(qr/recovery launcher: database "other" waits for a free worker: recovery\.max_workers \(1\) are all busy/, $offset);
sleep 2;
is(scalar(() = substr(slurp_file($node->logfile), $offset) =~ /waits for a free worker/g), 1, 'said once');
sql('postgres', q{ALTER SYSTEM RESET recovery.max_workers; SELECT pg_reload_conf()});
wait_workers('other', 1, 'max_workers back to 4: it runs again');

# The launcher restarted (SIGTERM): the workers run on, none twice.
my $launcher = sql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'recovery launcher'});
my $worker = sql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'recovery worker' AND datname = 'app'});
sql('postgres', "SELECT pg_terminate_backend($launcher)");
wait_for($node, 'postgres', qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'recovery launcher' AND pid <> $launcher},
	'the launcher comes back after SIGTERM');
sleep 2;
is(sql('postgres', q{SELECT string_agg(datname || ':' || n, ',' ORDER BY datname) FROM (SELECT datname, count(*) AS n
  FROM pg_stat_activity WHERE backend_type = 'recovery worker' GROUP BY datname) s}), 'app:1,other:1',
	'still one worker per database');
is(sql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'recovery worker' AND datname = 'app'}), $worker,
	'the same worker, adopted');
sql('app', sprintf($stuck, 'after-launcher'));
sql('app', 'SELECT recovery.run_worker_now()');
wait_for($node, 'app', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'after-launcher'},
	'and it still recovers');

# (but the launcher's own SIGTERM above)
unlike(slurp_file($node->logfile) =~ s/FATAL:  terminating background worker "recovery launcher"//r,
	qr/FATAL|PANIC|ERROR/, 'no FATAL or ERROR: template0 was never tried');

# Binary-upgrade mode (how pg_upgrade starts the new cluster): no launcher, no worker.
$node->stop;
command_ok(['pg_ctl', '-D', $node->data_dir, '-l', $node->logfile, '-o', '-b', '-w', 'start'],
	'the server starts in binary-upgrade mode');
sleep 3;
is(sql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('recovery launcher', 'recovery worker')}),
	'0', 'no launcher and no worker under pg_upgrade');
command_ok(['pg_ctl', '-D', $node->data_dir, '-m', 'fast', '-w', 'stop'], 'and stops');

done_testing();
