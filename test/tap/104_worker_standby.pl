# On a hot standby the worker writes nothing and logs no errors; after
# promotion it recovers runs that went stuck.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

my $primary = worker_node('primary', init => { allows_streaming => 1 });
watch_seed($primary, 'postgres');
# A run that is fresh now and will be stuck by the time of promotion.
# (postgresql.conf, not ALTER SYSTEM: the standby's own later line must win.)
$primary->append_conf('postgresql.conf', "recovery.enabled = off\n");
$primary->reload;
wait_for($primary, 'postgres', q{SELECT state = 'disabled' FROM recovery.worker_status()}, 'primary worker paused');
$primary->safe_psql('postgres', q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('stuck', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
$primary->backup('backup');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', "recovery.enabled = on\n");
$standby->start;
$primary->wait_for_catchup($standby);

wait_for($standby, 'postgres', q{SELECT state = 'standby' FROM recovery.worker_status()},
	'the standby\'s worker reports standby');
sleep 3;
is($standby->safe_psql('postgres', q{SELECT status FROM qualification_runs WHERE id = 'stuck'}), 'PROCESSING',
	'it writes nothing on the standby');
ok(!$standby->log_contains('ERROR'), 'and logs no errors there');

$primary->stop;
$standby->promote;
my $start = time;
wait_for($standby, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'stuck'},
	'after promotion its worker recovers the stuck run');
cmp_ok(time - $start, '<=', 10, 'within a few naptimes');
is($standby->safe_psql('postgres', q{SELECT application_name FROM recovery.history}), 'recovery worker',
	'history records the worker');

$standby->stop;
done_testing();
