
# Hot standby: on a streaming standby, find_stuck_runs and stuck_runs_report
# work (read-only); recover_stuck_runs and recover_stuck_runs_report fail
# cleanly with SQLSTATE 25006 (read-only transaction) and change nothing.
# Once the standby is promoted, recover_stuck_runs recovers the runs there.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

my $primary = app_node('primary', init => { allows_streaming => 1 });
setup_app($primary, 'app');
add_runs(
	$primary, 'app',
	[ 'sb-stuck', 'PROCESSING', 120 ],
	[ 'sb-alive', 'PROCESSING', 120, 2 ],
	[ 'sb-done',  'COMPLETED',  300 ]);

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# Streamed after the base backup: the standby really follows the primary.
add_runs($primary, 'app', [ 'sb-late', 'PENDING', 60 ]);
$primary->wait_for_catchup($standby);
is($standby->safe_psql('app', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');

my $runs_sql = q{
	SELECT string_agg(id || '=' || status || ':' || ("completedAt" IS NOT NULL), ',' ORDER BY id)
	FROM qualification_runs};
my $before = $standby->safe_psql('app', $runs_sql);
is( $before,
	'sb-alive=PROCESSING:false,sb-done=COMPLETED:false,sb-late=PENDING:false,sb-stuck=PROCESSING:false',
	'standby has every run, including one written after the backup');

# Reading works.
is( $standby->safe_psql(
		'app', q{SELECT string_agg(run_id || ' ' || status, ',' ORDER BY last_activity_at)
		         FROM recovery.find_stuck_runs('30 minutes')}),
	'sb-stuck PROCESSING,sb-late PENDING',
	'find_stuck_runs on the standby lists the stuck runs, oldest first');
is( $standby->safe_psql('app',
		q{SELECT recovery.stuck_runs_report('30 minutes')->>'count'}),
	'2',
	'stuck_runs_report on the standby counts them');

# Writing fails cleanly.
for my $call (
	q{SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')},
	q{SELECT recovery.recover_stuck_runs_report('30 minutes')},
	q{SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', 1, 'qualification_runs')},
	q{SELECT count(*) FROM recovery.recover_each_table('30 minutes')})
{
	my ($ret, $stdout, $stderr) =
	  $standby->psql('app', "\\set VERBOSITY verbose\n$call");
	isnt($ret, 0, "standby refuses: $call");
	is(sqlstate_of($stderr), '25006', 'with SQLSTATE 25006 (read_only_sql_transaction)')
	  or diag $stderr;
	like($stderr, qr/cannot execute \S+ in a read-only transaction/,
		'and says the transaction is read-only');
	note "standby said: $stderr";
	is($stdout, '', 'and returns no row');
}
is($standby->safe_psql('app', $runs_sql), $before, 'no run changed on the standby');
is($standby->safe_psql('app', 'SELECT count(*) FROM recovery.history'),
	'0', 'no history on the standby');
is($primary->safe_psql('app', $runs_sql), $before, 'nor on the primary');
is($primary->safe_psql('app', 'SELECT count(*) FROM recovery.history'),
	'0', 'no history on the primary');
is($standby->safe_psql('app', 'SELECT pg_is_in_recovery()'),
	't', 'the standby is still a healthy standby');

# Promoted, it recovers.
$primary->stop;
$standby->promote;
ok($standby->poll_query_until('app', 'SELECT NOT pg_is_in_recovery()'),
	'standby promoted');
is( $standby->safe_psql(
		'app', q{SELECT string_agg(run_id || ' ' || previous_status || ' ' || new_status, ','
		                           ORDER BY run_id)
		         FROM recovery.recover_stuck_runs('30 minutes')}),
	'sb-late PENDING FAILED,sb-stuck PROCESSING FAILED',
	'recover_stuck_runs on the promoted server recovers the two stuck runs');
is( $standby->safe_psql('app', $runs_sql),
	'sb-alive=PROCESSING:false,sb-done=COMPLETED:false,sb-late=FAILED:true,sb-stuck=FAILED:true',
	'they are FAILED with completedAt set; the others are untouched');
is( $standby->safe_psql(
		'app', q{SELECT string_agg(run_id, ',' ORDER BY run_id) FROM recovery.history}),
	'sb-late,sb-stuck',
	'history has one row per recovered run');
is(agreement_mismatches($standby, 'app'), '0', 'statuses and history agree');

$standby->stop;
done_testing();
