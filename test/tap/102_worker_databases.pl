# recovery.databases limits the launcher to the databases it names (quoted
# names keep capitals and spaces): one worker per listed database that has
# the extension, none in a listed database without it (quietly, and picked
# up after CREATE EXTENSION without a restart), none in a database that is
# not listed, and no error for a listed database that does not exist.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

my $node = PostgreSQL::Test::Cluster->new('databases');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'recovery'
recovery.databases = 'app_one, "App Two", later, not_created'
recovery.naptime = 1
});
$node->start;
$node->safe_psql('postgres',
	q{CREATE DATABASE app_one; CREATE DATABASE "App Two"; CREATE DATABASE later; CREATE DATABASE unlisted});
my $stuck = q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('%s', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')};

for my $db ('app_one', 'App Two', 'unlisted') {
	watch_seed($node, $db);
	$node->safe_psql($db, sprintf($stuck, "run-in-$db"));
}
for my $db ('app_one', 'App Two') {
	wait_for($node, $db, qq{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'run-in-$db'},
		"the worker of \"$db\" recovers its run");
	is($node->safe_psql($db, q{SELECT count(*) FROM recovery.history}), '1', "history in \"$db\" only has its own run");
}
my $workers = q{SELECT string_agg(datname || ':' || n, ',' ORDER BY datname) FROM (SELECT datname, count(*) AS n
  FROM pg_stat_activity WHERE backend_type = 'recovery worker' GROUP BY datname) s};
is($node->safe_psql('postgres', $workers), 'App Two:1,app_one:1', 'one worker per listed database with the extension');
is($node->safe_psql('app_one', q{SELECT string_agg(database || ':' || (pid > 0), ',' ORDER BY database)
  FROM recovery.worker_status()}), 'App Two:true,app_one:true', 'worker_status() lists them');
sleep 2;
is($node->safe_psql('unlisted', q{SELECT status FROM qualification_runs WHERE id = 'run-in-unlisted'}), 'PROCESSING',
	'no worker in a database that is not listed');
ok($node->log_contains('recovery launcher: database "not_created" in recovery.databases does not exist'),
	'a listed database that does not exist is said');
ok(!$node->log_contains('ERROR|FATAL'), 'quietly: no errors logged, no FATAL for it or for "later"');

watch_seed($node, 'later');
$node->safe_psql('later', sprintf($stuck, 'late-run'));
wait_for($node, 'later', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'late-run'},
	'CREATE EXTENSION in a listed database is picked up without a restart');
wait_for($node, 'later', q{SELECT state = 'idle' FROM recovery.worker_status() WHERE database = 'later'},
	'and its worker is idle again');

# Created later, a listed database gets its worker without a restart too.
$node->safe_psql('postgres', 'CREATE DATABASE not_created');
watch_seed($node, 'not_created');
wait_for($node, 'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'recovery worker'
  AND datname = 'not_created'}, 'a listed database created later gets its worker');

$node->stop;
done_testing();
