
# NOTIFY recovery: a session that LISTENs receives exactly one notification
# per recovered run, with the documented JSON payload, from the backend that
# recovered them, and only once that transaction commits. A recovery that is
# rolled back (explicitly, by an error, or by ROLLBACK TO SAVEPOINT) sends
# nothing.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use RecoveryTap;

my $node = app_node('notify');
setup_app($node, 'app');

# A second watched table: snake_case, text statuses, its own words, and a run
# id that is also an id in qualification_runs (payloads must not collide).
$node->safe_psql(
	'app', q{
	CREATE TABLE app_jobs (id text PRIMARY KEY, state text NOT NULL,
	                       created_at timestamptz NOT NULL, updated_at timestamptz,
	                       finished_at timestamptz);
	SELECT recovery.watch('app_jobs', status_column => 'state',
	                      active_statuses => '{queued,running}', failed_status => 'dead');
	INSERT INTO app_jobs VALUES ('r1', 'running', now() - interval '3 hours', NULL, NULL),
	                            ('j2', 'queued', now() - interval '1 minute', NULL, NULL);
});
add_runs(
	$node, 'app',
	[ 'r1', 'PROCESSING', 120 ],
	[ 'r2', 'PENDING',    90 ],
	[ 'r3', 'PROCESSING', 300, 45 ],    # stuck: last activity 45 min ago
	[ 'r4', 'PROCESSING', 300, 5 ],     # alive: activity 5 min ago
	[ 'r5', 'COMPLETED',  200 ]);

my $snapshot_sql = q{
	SELECT string_agg(id || '=' || status || ':' || ("completedAt" IS NOT NULL), ',' ORDER BY id)
	FROM qualification_runs};
my $jobs_sql = q{SELECT string_agg(id || '=' || state, ',' ORDER BY id) FROM app_jobs};
my $before = $node->safe_psql('app', $snapshot_sql);
my $jobs_before = $node->safe_psql('app', $jobs_sql);

my $listener = $node->background_psql('app');
$listener->query_safe('LISTEN recovery');

# Runs trivial queries in the listening session (psql prints notifications
# after each command) until a notification with payload $marker shows up.
# Returns every notification received before the marker, and the marker's.
sub notifications_until
{
	my ($marker) = @_;
	my $out = '';
	for (1 .. 200)
	{
		$out .= $listener->query('SELECT 1') . "\n";
		last if $out =~ /with payload "\Q$marker\E" received/;
		usleep(50_000);
	}
	my @all = parse_notifications($out);
	my @marker = grep { $_->{payload} eq $marker } @all;
	is(scalar @marker, 1, "listener received marker $marker");
	return grep { $_->{payload} ne $marker } @all;
}

# 1. Rolled back recoveries: they found the runs, yet nobody hears of them.
my $rolled_back = $node->safe_psql(
	'app', q{
	BEGIN;
	SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes');
	ROLLBACK;
	BEGIN;
	SAVEPOINT s;
	SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', max_runs => 2);
	ROLLBACK TO SAVEPOINT s;
	COMMIT;
});
is($rolled_back, "4\n2", 'rolled-back calls did recover 4 and 2 runs inside their transactions');
my ($ret, $stdout, $stderr) = $node->psql(
	'app', q{
	\set VERBOSITY verbose
	BEGIN;
	SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes');
	SELECT 1/0;
	COMMIT;
});
is(sqlstate_of($stderr), '22012', 'a later error aborts the recovering transaction');
$node->safe_psql('app', q{NOTIFY recovery, 'marker-1'});
my @heard = notifications_until('marker-1');
is(scalar @heard, 0, 'rolled-back recoveries sent no notification')
  or diag explain \@heard;
is($node->safe_psql('app', $snapshot_sql), $before, 'rolled-back recoveries changed no run');
is($node->safe_psql('app', $jobs_sql), $jobs_before, 'nor any job');
is($node->safe_psql('app', 'SELECT count(*) FROM recovery.history'),
	'0', 'nor wrote history');

# 2. A committed recovery: one notification per run, after the commit.
my $worker = $node->background_psql('app');
my $worker_pid = $worker->query_safe('SELECT pg_backend_pid()');
$worker->query_safe('BEGIN');
my $recovered = $worker->query_safe(
	q{SELECT run_table || ' ' || run_id || ' ' || previous_status || ' ' || new_status
	  FROM recovery.recover_stuck_runs('30 minutes') ORDER BY 1});
is( $recovered,
	join("\n",
		'public.app_jobs r1 running dead',
		'public.qualification_runs r1 PROCESSING FAILED',
		'public.qualification_runs r2 PENDING FAILED',
		'public.qualification_runs r3 PROCESSING FAILED'),
	'the call recovers the four stuck runs');

# Not committed yet: nothing may be delivered.
$node->safe_psql('app', q{NOTIFY recovery, 'marker-2'});
@heard = notifications_until('marker-2');
is(scalar @heard, 0, 'nothing is delivered before the recovering transaction commits');

$worker->query_safe('COMMIT');
$node->safe_psql('app', q{NOTIFY recovery, 'marker-3'});
@heard = notifications_until('marker-3');
is(scalar @heard, 4, 'one notification per recovered run') or diag explain \@heard;
is_deeply([ map { $_->{channel} } @heard ], [ ('recovery') x 4 ], 'all on channel recovery');
is_deeply([ map { $_->{pid} } @heard ],
	[ ($worker_pid) x 4 ], 'all from the recovering backend');
ok(!(grep { ref $_->{json} ne 'HASH' } @heard), 'every payload is a JSON object')
  or diag explain [ map { $_->{payload} } @heard ];
my @payloads = sort { $a->{run_table} cmp $b->{run_table} or $a->{run_id} cmp $b->{run_id} }
  grep { ref $_ eq 'HASH' } map { $_->{json} } @heard;
is_deeply(
	\@payloads,
	[
		{
			run_table => 'public.app_jobs',
			run_id => 'r1',
			previous_status => 'running',
			new_status => 'dead'
		},
		{
			run_table => 'public.qualification_runs',
			run_id => 'r1',
			previous_status => 'PROCESSING',
			new_status => 'FAILED'
		},
		{
			run_table => 'public.qualification_runs',
			run_id => 'r2',
			previous_status => 'PENDING',
			new_status => 'FAILED'
		},
		{
			run_table => 'public.qualification_runs',
			run_id => 'r3',
			previous_status => 'PROCESSING',
			new_status => 'FAILED'
		},
	],
	'payloads are exactly {run_table, run_id, previous_status, new_status}');
note 'payloads as sent: ', join(' | ', map { $_->{payload} } @heard);

# 3. Nothing left to recover: nothing to say.
is($worker->query_safe(q{SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')}),
	'0', 'a second call finds nothing');
$node->safe_psql('app', q{NOTIFY recovery, 'marker-4'});
@heard = notifications_until('marker-4');
is(scalar @heard, 0, 'a call that recovers nothing notifies nothing');

# 4. The report function notifies too, and max_runs caps the notifications.
add_runs($node, 'app', [ 'r6', 'PROCESSING', 100 ], [ 'r7', 'PROCESSING', 110 ]);
is( $worker->query_safe(
		q{SELECT recovery.recover_stuck_runs_report('30 minutes', max_runs => 1)->>'recovered'}),
	'1',
	'report recovers one run with max_runs => 1');
$node->safe_psql('app', q{NOTIFY recovery, 'marker-5'});
@heard = notifications_until('marker-5');
is_deeply(
	[ map { $_->{json} } @heard ],
	[
		{
			run_table => 'public.qualification_runs',
			run_id => 'r7',
			previous_status => 'PROCESSING',
			new_status => 'FAILED'
		}
	],
	'exactly one notification, for the oldest run');

is($node->safe_psql('app', 'SELECT count(*) FROM recovery.history'),
	'5', 'history has one row per notification');

$worker->quit;
$listener->quit;
$node->stop;
done_testing();
