# Real poolers: PgBouncer (Debian's pgbouncer package), started here on free
# localhost ports, one server backend per pool.
# - Transaction mode: instances, token claims and heartbeats work through
#   it; a restart or a lapsed lease recovers the runs within a second (of
#   the lease's end). The trap: a session claim made through it belongs to
#   the shared server backend, which outlives the client.
# - Session mode: a client that disconnects ends its session claims (the
#   pooler's DISCARD ALL) within a second, while the server backend lives on.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use RecoveryTap;

plan skip_all => "PgBouncer is not installed ($PGBOUNCER; apt-get install pgbouncer)" unless -x $PGBOUNCER;

my $node = worker_node('pooled', conf => "recovery.naptime = 60\n");
watch_seed($node, 'postgres');
$node->safe_psql('postgres', q{SELECT recovery.run_worker_now()});
wait_for($node, 'postgres', q{SELECT state = 'idle' FROM recovery.worker_status()}, 'worker idle');

sub new_run { processing_run($node, @_) }

sub status_of { run_status($node, @_) }

sub reason_of { history_reasons($node, @_) }

sub until_failed
{
	my ($id, $t0) = @_;
	my $deadline = $t0 + 20;
	usleep(5_000) while status_of($id) ne 'FAILED' && time < $deadline;
	return time - $t0;
}

# --- transaction mode ----------------------------------------------------
my $tx = start_pgbouncer($node, 'transaction');

# Two clients, one server backend.
my $one = $tx->background_psql('postgres');
my $two = $tx->background_psql('postgres');
my $pid_one = $one->query_safe('SELECT pg_backend_pid()');
my $pid_two = $two->query_safe('SELECT pg_backend_pid()');
is($pid_one, $pid_two, 'transaction mode: two clients are served by one server backend');

my $token = $one->query_safe(q{SELECT recovery.instance_start('pooled-web', '2 seconds')});
new_run('tx-1', '10 seconds');
new_run('tx-2', '10 seconds');
is($two->query_safe(qq{SELECT recovery.claim('qualification_runs', 'tx-1', '$token')}), 't',
	'a token claim through the pooler, from another client than the one that started the instance');
is($one->query_safe(qq{BEGIN; SELECT recovery.claim('qualification_runs', 'tx-2', '$token'); COMMIT;}), 't',
	'and one inside a transaction');
$two->quit;    # a client leaves: nothing ends, the incarnation owns the claims
for (1 .. 6)
{
	usleep(500_000);
	$one->query_safe(qq{SELECT recovery.instance_heartbeat('$token')});
}
is(status_of('tx-1') . ' ' . status_of('tx-2'), 'PROCESSING PROCESSING',
	'heartbeats through the pooler keep the runs claimed for 3 s of a 2 s lease');
is($one->query_safe(qq{SELECT recovery.instance_heartbeat('$token')}), 't', 'the heartbeat through the pooler is true');

# The app restarts: its new incarnation ends the old one.
my $t0 = time;
my $next = $one->query_safe(q{SELECT recovery.instance_start('pooled-web', '2 seconds')});
my $restart = until_failed('tx-2', $t0);
is(status_of('tx-1') . ' ' . status_of('tx-2'), 'FAILED FAILED', 'the restarted instance\'s runs are FAILED');
is(reason_of('tx-1'), 'instance_restarted', 'reason instance_restarted');
diag(sprintf('through PgBouncer (transaction mode): time to recovery after instance_start %.3f s', $restart));
cmp_ok($restart, '<', 1, 'under 1 s');

# A silent instance: the lease lapses.
new_run('tx-3', '10 seconds');
$one->query_safe(qq{SELECT recovery.claim('qualification_runs', 'tx-3', '$next')});
$t0 = time;
$one->query_safe(qq{SELECT recovery.instance_heartbeat('$next')});
my $lapse = until_failed('tx-3', $t0);
is(reason_of('tx-3'), 'instance_gone', 'a silent instance\'s run: instance_gone');
diag(sprintf('through PgBouncer (transaction mode): time to recovery after the last heartbeat %.3f s (lease 2 s)', $lapse));
cmp_ok($lapse, '<', 3, 'under lease + 1 s');
is($one->query_safe(qq{SELECT recovery.instance_heartbeat('$next')}), 'f', 'its heartbeat then says false');

# The trap: a session claim through a transaction-mode pooler belongs to
# the shared server backend, which lives on when the client leaves.
new_run('trap', '10 seconds');
my $c = $tx->background_psql('postgres');
is($c->query_safe(q{SELECT recovery.claim('qualification_runs', 'trap')}), 't', 'a session claim through the transaction pooler');
$c->quit;
sleep 2;
is(status_of('trap'), 'PROCESSING', 'the trap: its client left, the server backend did not: the claim still looks alive');
is($node->safe_psql('postgres', q{SELECT recovery.backend_alive(backend_pid, backend_start) FROM recovery.claims WHERE run_id = 'trap'}),
	't', 'its backend is alive');
$node->safe_psql('postgres', q{SELECT recovery.release('qualification_runs', 'trap')});
$one->quit;

# --- session mode ----------------------------------------------------------
my $session = start_pgbouncer($node, 'session');
my @elapsed;
my $server_pid;
for my $n (1 .. 3)
{
	my $id = "session-$n";
	new_run($id, '10 seconds');
	my $client = $session->background_psql('postgres');
	my $pid = $client->query_safe('SELECT pg_backend_pid()');
	$server_pid //= $pid;
	is($pid, $server_pid, "client $n gets the same server backend") if $n > 1;
	is($client->query_safe(qq{SELECT recovery.claim('qualification_runs', '$id')}), 't', "client $n claims run $n");
	sleep 1 if $n == 1;
	my $t = time;
	$client->quit;    # PgBouncer runs DISCARD ALL on the server backend
	push @elapsed, until_failed($id, $t);
	is(status_of($id), 'FAILED', "run $n of the client that left is FAILED");
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM pg_stat_activity WHERE pid = $server_pid}), '1',
		'while the server backend lives on');
}
is(reason_of('session-1'), 'owner_gone', 'reason owner_gone, as if the session had ended');
my @sorted = sort { $a <=> $b } @elapsed;
diag(sprintf('through PgBouncer (session mode): time to recovery after a client disconnects: median %.3f s, max %.3f s over %d clients',
	$sorted[1], $sorted[-1], scalar @sorted));
cmp_ok($sorted[-1], '<', 1, 'each under 1 s');

# A claim made by the next client on that backend after DISCARD ALL is live.
new_run('after-discard', '2 hours');
my $next_client = $session->background_psql('postgres');
$next_client->query_safe(q{SELECT recovery.claim('qualification_runs', 'after-discard')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM recovery.find_stuck_runs('30 minutes') WHERE run_id = 'after-discard'}), '0',
	'the next client\'s claim on the same backend is alive');
$next_client->quit;

stop_pgbouncers();
$node->stop;
done_testing();
