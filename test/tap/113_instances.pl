# App instances: a new incarnation of a name, instance_stop and a lapsed
# lease make the runs the earlier incarnation claimed stuck at once, with
# their own reasons, and the worker acts within a second (of start and stop,
# which wake it) or of the lease's end (it sleeps no longer), though its
# naptime is 60 s. Heartbeats keep a long run alive past the timeout; a token
# claim counts from commit and works from any connection; heartbeat says
# false once the incarnation is over, and a heartbeat in flight as the lease
# runs out keeps the runs (recovery ends a lapsed incarnation first, skipping
# one a heartbeat holds).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);
use RecoveryTap;

my $node = worker_node('instances', conf => "recovery.naptime = 60\n");
watch_seed($node, 'postgres');
$node->safe_psql('postgres', q{SELECT recovery.run_worker_now()});
wait_for($node, 'postgres', q{SELECT state = 'idle' FROM recovery.worker_status()}, 'worker idle');

sub new_run { processing_run($node, @_) }

sub status_of { run_status($node, @_) }

sub reason_of { history_reasons($node, @_) }

sub sql1
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

# Seconds from $t0 until run $id is FAILED (or 20 s).
sub until_failed
{
	my ($id, $t0) = @_;
	my $deadline = $t0 + 20;
	usleep(5_000) while status_of($id) ne 'FAILED' && time < $deadline;
	return time - $t0;
}

# 1. A restarted app server: its new incarnation ends the old one at once.
my @restart;
for my $n (1 .. 3)
{
	my $token = sql1(q{SELECT recovery.instance_start('web-1')});
	like($token, qr/^[0-9a-f]{64}$/, "incarnation $n: the token is 32 random bytes in hex") if $n == 1;
	new_run("restart-$n", '10 seconds');
	is(sql1(qq{SELECT recovery.claim('qualification_runs', 'restart-$n', '$token')}), 't', "run $n claimed by the incarnation");
	sleep 1 if $n == 1;    # the worker settles into its 60 s nap
	my $t0 = time;
	my $next = sql1(q{SELECT recovery.instance_start('web-1')});
	push @restart, until_failed("restart-$n", $t0);
	is(status_of("restart-$n"), 'FAILED', "run $n of the restarted instance is FAILED");
	is(sql1(qq{SELECT recovery.instance_heartbeat('$token')}), 'f', 'the superseded incarnation\'s heartbeat is false');
	is(sql1(qq{SELECT recovery.instance_heartbeat('$next')}), 't', 'the new one\'s is true');
}
is(reason_of('restart-1') . ' ' . reason_of('restart-3'), 'instance_restarted instance_restarted', 'history says instance_restarted');
my @sorted = sort { $a <=> $b } @restart;
diag(sprintf('time to recovery after instance_start: median %.3f s, max %.3f s over %d restarts (naptime 60 s)',
	$sorted[1], $sorted[-1], scalar @sorted));
cmp_ok($sorted[-1], '<', 1, 'each under 1 s');

# 2. instance_stop: a graceful shutdown gives its runs up at once.
my $token = sql1(q{SELECT recovery.instance_start('worker-a', '1 hour')});
new_run('stopped-1', '10 seconds');
new_run('stopped-2', '10 seconds');
sql1(qq{SELECT recovery.claim('qualification_runs', 'stopped-1', '$token'), recovery.claim('qualification_runs', 'stopped-2', '$token')});
is(sql1(q{SELECT state || ' ' || claimed_runs FROM recovery.instances WHERE name = 'worker-a'}), 'alive 2', 'the view: alive, 2 claimed runs');
sleep 1;
my $t0 = time;
is(sql1(qq{SELECT recovery.instance_stop('$token')}), '2', 'instance_stop says how many runs it claimed');
my $stop = until_failed('stopped-2', $t0);
is(status_of('stopped-1') . ' ' . status_of('stopped-2'), 'FAILED FAILED', 'both runs of the stopped instance are FAILED');
is(reason_of('stopped-1'), 'instance_stopped', 'history says instance_stopped');
diag(sprintf('time to recovery after instance_stop: %.3f s (naptime 60 s)', $stop));
cmp_ok($stop, '<', 1, 'under 1 s');
is(sql1(qq{SELECT recovery.instance_heartbeat('$token')}), 'f', 'a stopped incarnation\'s heartbeat is false');
is(sql1(qq{SELECT recovery.instance_stop('$token')}), '0', 'stopping it again stops nothing');
is(sql1(q{SELECT state FROM recovery.instances WHERE name = 'worker-a'}), 'stopped', 'the view: stopped');

# 3. Heartbeats keep a claimed run alive past the timeout; when they stop,
#    the lease lapses and the run is recovered within a second of its end.
$token = sql1(q{SELECT recovery.instance_start('web-2', '2 seconds')});
new_run('leased', '2 hours');
sql1(qq{SELECT recovery.claim('qualification_runs', 'leased', '$token')});
for (1 .. 8)
{
	usleep(500_000);
	sql1(qq{SELECT recovery.instance_heartbeat('$token')});
}
is(sql1(q{SELECT count(*) FROM recovery.find_stuck_runs('30 minutes') WHERE run_id = 'leased'}), '0',
	'a heartbeating instance\'s run, two hours old, is not stuck past the 30 min timeout');
is(status_of('leased'), 'PROCESSING', 'and the worker left it alone for 4 s of a 2 s lease');
$t0 = time;
sql1(qq{SELECT recovery.instance_heartbeat('$token')});    # the last one
usleep(1_500_000);
is(status_of('leased'), 'PROCESSING', 'still PROCESSING 1.5 s after the last heartbeat');
my $lapse = until_failed('leased', $t0);
is(reason_of('leased'), 'instance_gone', 'history says instance_gone');
diag(sprintf('time to recovery after the last heartbeat: %.3f s (lease 2 s, naptime 60 s)', $lapse));
cmp_ok($lapse, '<', 3, 'under lease + 1 s');
is(sql1(qq{SELECT recovery.instance_heartbeat('$token')}), 'f', 'a lapsed incarnation\'s heartbeat is false: the fence');
is(sql1(q{SELECT state FROM recovery.instances WHERE name = 'web-2'}), 'lapsed', 'the view: lapsed');
new_run('after-lapse', '10 seconds');
is(sql1(qq{SELECT recovery.claim('qualification_runs', 'after-lapse', '$token')}), 'f', 'a lapsed incarnation claims nothing');

# 4. A token claim counts from commit, and works from any connection.
$token = sql1(q{SELECT recovery.instance_start('web-3', '1 hour')});
new_run('in-tx', '10 seconds');
new_run('rolled-back', '10 seconds');
my $app = $node->background_psql('postgres');
$app->query_safe(qq{BEGIN; SELECT recovery.claim('qualification_runs', 'rolled-back', '$token'); ROLLBACK});
$app->query_safe(qq{BEGIN; SELECT recovery.claim('qualification_runs', 'in-tx', '$token')});
is(sql1(q{SELECT count(*) FROM recovery.claims WHERE run_id = 'in-tx'}), '0', 'an uncommitted claim is not seen yet');
$app->query_safe('COMMIT');
is(sql1(q{SELECT count(*) FROM recovery.claims WHERE run_id = 'in-tx' AND incarnation IS NOT NULL}), '1', 'after commit it is the incarnation\'s');
is(sql1(q{SELECT count(*) FROM recovery.claims WHERE run_id = 'rolled-back'}), '0', 'a rolled-back claim is none');
$app->quit;    # the connection that claimed ends: the instance's claim lives on
sleep 1;
is(status_of('in-tx'), 'PROCESSING', 'the claiming connection ended, the incarnation lives: PROCESSING');
# Another connection's session claim cannot take a live incarnation's run.
is(sql1(q{SELECT recovery.claim('qualification_runs', 'in-tx')}), 'f', 'a session cannot take over a live incarnation\'s claim');
# Released from another connection by the same role.
is(sql1(q{SELECT recovery.release('qualification_runs', 'in-tx')}), 't', 'the instance\'s role releases it from any connection');
is(sql1(q{SELECT recovery.claim('qualification_runs', 'in-tx', (SELECT recovery.instance_start('web-3')))}), 't',
	'and claims it again with a new incarnation');

# 5. DISCARD ALL (what a session-mode pooler sends when its client leaves)
#    ends the session's claims as if it had ended; the session lives on, and
#    its next claim is live.
new_run('discarded', '10 seconds');
my $pooled = $node->background_psql('postgres');
$pooled->query_safe(q{SELECT recovery.claim('qualification_runs', 'discarded')});
$t0 = time;
$pooled->query_safe('DISCARD ALL');
my $discard = until_failed('discarded', $t0);
is(reason_of('discarded'), 'owner_gone', 'DISCARD ALL: the session\'s run is owner_gone');
diag(sprintf('time to recovery after DISCARD ALL: %.3f s (naptime 60 s)', $discard));
cmp_ok($discard, '<', 1, 'under 1 s');
new_run('after-discard', '2 hours');
is($pooled->query_safe(q{SELECT recovery.claim('qualification_runs', 'after-discard')}), 't', 'the same session claims again');
is(sql1(q{SELECT count(*) FROM recovery.find_stuck_runs('30 minutes') WHERE run_id = 'after-discard'}), '0',
	'and that claim is live');
$pooled->quit;

# 6. Two first starts of one name at once take turns: the second waits for
#    the first to commit, then supersedes it.
my $first = $node->background_psql('postgres');
$first->query_safe(q{BEGIN; SELECT recovery.instance_start('race-1')});
my ($race_out, $race_err) = ('', '');
my $second = IPC::Run::start(
	[ $node->installed_command('psql'), '-XAtq', '-d', $node->connstr('postgres'),
	  '-c', q{SELECT length(recovery.instance_start('race-1'))} ],
	'>', \$race_out, '2>', \$race_err);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%instance_start(''race-1'')%' AND wait_event_type = 'Lock'}),
	'a second start of a name waits for the first one\'s transaction');
$first->query_safe('COMMIT');
$second->finish;
is($race_out . $race_err, "64\n", 'then starts without an error');
is(sql1(q{SELECT string_agg(state, ',' ORDER BY incarnation) FROM recovery.instances WHERE name = 'race-1'}),
	'superseded,alive', 'and supersedes the first');
$first->quit;

# 7. Arguments.
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT recovery.instance_start('x', '0 seconds')});
like($err, qr/lease must be a positive interval/, 'a lease must be positive');
($ret, $out, $err) = $node->psql('postgres', q{SELECT recovery.instance_start('', '1 minute')});
like($err, qr/instance name is empty/, 'a name must not be empty');
is(sql1(q{SELECT recovery.instance_heartbeat('not-a-token')}), 'f', 'an unknown token: heartbeat false');
is(sql1(q{SELECT count(*) FROM recovery.instances WHERE name = 'web-1' AND state = 'alive'}), '1', 'one live incarnation per name');

# 8. A heartbeat in flight when the lease runs out wins: recovery, which
#    ends lapsed incarnations before it fails their runs, skips the row the
#    heartbeat holds, and the incarnation lives on with its runs.
my $fence_t0 = time;
$token = sql1(q{SELECT recovery.instance_start('fence-1', '3 seconds')});
new_run('fenced', '10 seconds');
is(sql1(qq{SELECT recovery.claim('qualification_runs', 'fenced', '$token')}), 't', 'fence: run claimed by a 3 s lease');
my $beat = $node->background_psql('postgres');
usleep(2_000_000);
# Renewed until 5 s from the start, but not committed before the 3 s are up.
is($beat->query_safe(qq{BEGIN; SELECT recovery.instance_heartbeat('$token')}), 't',
	'a heartbeat renews, its transaction still open');
usleep(1_000_000 * ($fence_t0 + 3.4 - time)) if time < $fence_t0 + 3.4;    # the lease as committed ran out
my ($fret, $fout, $ferr) = $node->psql('postgres',
	q{SET statement_timeout = '5s'; SELECT count(*) FROM recovery.recover_stuck_runs('1 hour', NULL, 'qualification_runs')});
is("$fret $fout", '0 0', 'a recovery meanwhile does not wait for it and recovers nothing') or diag $ferr;
is(status_of('fenced'), 'PROCESSING', 'the run is still PROCESSING');
$beat->query_safe('COMMIT');
$beat->quit;
usleep(500_000);    # the worker, woken by the lease's end, looks again
is(status_of('fenced'), 'PROCESSING', 'after the heartbeat commits, still PROCESSING');
is(sql1(q{SELECT count(*) FROM recovery.history WHERE run_id = 'fenced'}), '0', 'and no history row');
is(sql1(qq{SELECT recovery.instance_heartbeat('$token')}), 't', 'the incarnation is alive: the next heartbeat is true');
is(sql1(qq{SELECT recovery.instance_stop('$token')}), '1', 'its stop counts the run');
until_failed('fenced', time);
is(reason_of('fenced'), 'instance_stopped', 'which then is instance_stopped, not instance_gone');

# 8b. The other order: a recovery that ended a lapsed incarnation holds its
#     row until it commits; a heartbeat meanwhile waits, then says false.
#     (The worker is paused, so the recovery is this transaction's.)
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.enabled = off; SELECT pg_reload_conf()});
$token = sql1(q{SELECT recovery.instance_start('fence-2', '1 second')});
new_run('fenced-2', '10 seconds');
is(sql1(qq{SELECT recovery.claim('qualification_runs', 'fenced-2', '$token')}), 't', 'fence 2: run claimed by a 1 s lease');
usleep(1_500_000);
my $recoverer = $node->background_psql('postgres');
is($recoverer->query_safe(
	q{BEGIN; SELECT count(*) FROM recovery.recover_stuck_runs('1 hour', NULL, 'qualification_runs')}), '1',
	'a recovery (not yet committed) fails the lapsed incarnation\'s run');
my ($hb_out, $hb_err) = ('', '');
my $late = IPC::Run::start(
	[ $node->installed_command('psql'), '-XAtq', '-d', $node->connstr('postgres'),
	  '-c', qq{SELECT recovery.instance_heartbeat('$token')} ],
	'>', \$hb_out, '2>', \$hb_err);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%instance_heartbeat(%' AND wait_event_type = 'Lock'}),
	'a heartbeat meanwhile waits for it');
$recoverer->query_safe('COMMIT');
$late->finish;
is($hb_out . $hb_err, "f\n", 'then returns false: the incarnation has ended');
is(status_of('fenced-2'), 'FAILED', 'and the run is FAILED');
is(reason_of('fenced-2'), 'instance_gone', 'as instance_gone');
$recoverer->quit;
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.enabled = on; SELECT pg_reload_conf()});

$node->stop;
done_testing();
