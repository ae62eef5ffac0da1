
# pg_cron: a job created with a plain
#   SELECT cron.schedule('recover', '* * * * *',
#                        $$SELECT recovery.recover_stuck_runs('30 minutes')$$)
# really recovers a stuck run, cron.job_run_details says 'succeeded', and
# recovery.history names pg_cron as the client.
#
# pg_cron runs a job one of two ways, both tested, on two servers at once so
# one minute boundary serves both (pg_cron 1.4 fires on whole minutes):
# - background workers (cron.use_background_workers = on): the job runs in a
#   worker of the server itself, no connection and no authentication;
# - libpq (the default): the scheduler connects to cron.host like any client,
#   as the job's user, with fallback_application_name=pg_cron. That needs
#   pg_hba.conf to let the job's user in without a password (trust or peer
#   for local connections, or a .pgpass for the postgres OS user). Cluster.pm
#   nodes use "local all all trust" on a private Unix socket directory, so
#   cron.host is that directory.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use RecoveryTap;

require_extension('pg_cron');

my %nodes;
for my $mode ('bgw', 'libpq')
{
	my $node = app_node("cron_$mode");
	setup_app($node, 'app');
	# pg_cron's launcher needs cron.database_name to exist when it starts.
	my $conf = "shared_preload_libraries = 'pg_cron,recovery'\n"
	  . "cron.database_name = 'app'\n";
	$conf .=
	  $mode eq 'bgw'
	  ? "cron.use_background_workers = on\n"
	  : "cron.host = '" . $node->host . "'\n";
	$node->append_conf('postgresql.conf', $conf);
	$node->restart;
	$node->safe_psql('app', 'CREATE EXTENSION pg_cron');
	add_runs(
		$node, 'app',
		[ 'cron-stuck', 'PROCESSING', 120 ],
		[ 'cron-pending', 'PENDING', 45 ],
		[ 'cron-alive', 'PROCESSING', 180, 1 ]);
	$nodes{$mode} = $node;
}

my %jobid;
for my $mode (sort keys %nodes)
{
	$jobid{$mode} = $nodes{$mode}->safe_psql('app',
		q{SELECT cron.schedule('recover', '* * * * *', $$SELECT recovery.recover_stuck_runs('30 minutes')$$)}
	);
	like($jobid{$mode}, qr/^\d+$/, "$mode: cron.schedule created job $jobid{$mode}");
}

# Wait for the first run of each job to end: at most one minute boundary
# plus a few seconds of work.
my $deadline = time + 75;
my %result;
while (time < $deadline && keys %result < keys %nodes)
{
	for my $mode (sort keys %nodes)
	{
		next if exists $result{$mode};
		my $r = $nodes{$mode}->safe_psql(
			'app', qq{SELECT status || '|' || coalesce(return_message, '')
			          FROM cron.job_run_details WHERE jobid = $jobid{$mode}
			            AND status IN ('succeeded', 'failed')
			          ORDER BY runid LIMIT 1});
		$result{$mode} = $r if $r ne '';
	}
	usleep(500_000) if keys %result < keys %nodes;
}

for my $mode (sort keys %nodes)
{
	my $node = $nodes{$mode};
	my $user = $node->safe_psql('app', 'SELECT current_user');
	ok(defined $result{$mode}, "$mode: the job ran within 75 s");
	my ($status, $message) = split /\|/, $result{$mode} // '|', 2;
	is($status, 'succeeded', "$mode: cron.job_run_details says succeeded")
	  or diag "return_message: $message";
	# The job itself did the work: its result is the two recovered rows.
	is( $message,
		$mode eq 'bgw' ? 'SELECT 2' : '2 rows',
		"$mode: the job's recover_stuck_runs call returned the two runs");
	is( $node->safe_psql('app', 'SELECT string_agg(id || \'=\' || status, \',\' ORDER BY id) FROM qualification_runs'),
		'cron-alive=PROCESSING,cron-pending=FAILED,cron-stuck=FAILED',
		"$mode: the job recovered the two stuck runs, not the live one");
	is( $node->safe_psql(
			'app', q{SELECT string_agg(run_id || ' ' || previous_status || ' ' || recovered_by,
			                           ',' ORDER BY run_id) FROM recovery.history}),
		"cron-pending PENDING $user,cron-stuck PROCESSING $user",
		"$mode: history has one row per run, recovered by the job's user");
	# pg_cron's libpq connections say fallback_application_name=pg_cron. Its
	# background workers set no application_name (pg_stat_activity shows them
	# with backend_type "pg_cron" and an empty application_name), so recovery
	# must fall back to the worker's type to name the client.
	is( $node->safe_psql(
			'app', q{SELECT string_agg(DISTINCT coalesce(application_name, '(null)'), ',')
			         FROM recovery.history}),
		'pg_cron',
		"$mode: history.application_name says pg_cron");
	is($node->safe_psql('app', q{SELECT cron.unschedule('recover')}), 't', "$mode: job removed");
}

$_->stop for values %nodes;
done_testing();
