# One worker per database in recovery.databases; a database without the
# extension is waited for quietly and picked up after CREATE EXTENSION.
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
recovery.databases = 'app_one, "App Two", later'
recovery.naptime = 1
});
$node->start;
$node->safe_psql('postgres', q{CREATE DATABASE app_one; CREATE DATABASE "App Two"; CREATE DATABASE later});
my $stuck = q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('%s', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')};

for my $db ('app_one', 'App Two') {
	watch_seed($node, $db);
	$node->safe_psql($db, sprintf($stuck, "run-in-$db"));
}
for my $db ('app_one', 'App Two') {
	wait_for($node, $db, qq{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'run-in-$db'},
		"the worker of \"$db\" recovers its run");
	is($node->safe_psql($db, q{SELECT count(*) FROM recovery.history}), '1', "history in \"$db\" only has its own run");
}
is($node->safe_psql('postgres', q{SELECT string_agg(database || ':' || (pid > 0), ',' ORDER BY database)
  FROM recovery.worker_status()}), 'App Two:true,app_one:true,later:true', 'one worker per database')
  if $node->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'recovery'}) eq '1';
# worker_status() is callable wherever the extension exists.
wait_for($node, 'app_one', q{SELECT state = 'waiting_for_extension' FROM recovery.worker_status() WHERE database = 'later'},
	'a database without the extension is waited for');
ok(!$node->log_contains('ERROR.*recovery|recovery.*ERROR'), 'quietly: no errors logged');

watch_seed($node, 'later');
$node->safe_psql('later', sprintf($stuck, 'late-run'));
wait_for($node, 'later', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'late-run'},
	'CREATE EXTENSION is picked up without a restart');
wait_for($node, 'later', q{SELECT state = 'idle' FROM recovery.worker_status() WHERE database = 'later'},
	'and the worker is idle again');

$node->stop;
done_testing();
