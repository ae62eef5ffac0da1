# Claims: a run whose claiming session ends is recovered at once (well before
# the naptime), a terminated session's run is stuck immediately whatever the
# timeout, a live claim outlasts the timeout, and a server restart ends claims.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use RecoveryTap;

# naptime 60 s: anything faster than that is the exit notice at work.
my $node = worker_node('claims', conf => "recovery.naptime = 60\n");
watch_seed($node, 'postgres');
$node->safe_psql('postgres', q{SELECT recovery.run_worker_now()});    # a first cycle with the table watched
wait_for($node, 'postgres', q{SELECT state = 'idle' FROM recovery.worker_status()}, 'worker idle');

sub new_run { processing_run($node, @_) }

sub status_of { run_status($node, @_) }

# 1. Disconnects: a fresh run (nowhere near the 30 min timeout) is FAILED
#    within seconds of its session ending. Timed over several disconnects.
my @elapsed;
for my $n (1 .. 5)
{
	my $id = "disconnect-$n";
	new_run($id, '10 seconds');
	my $app = $node->background_psql('postgres');
	$app->query_safe(qq{SELECT recovery.claim('qualification_runs', '$id')});
	sleep 1 if $n == 1;    # let the worker settle into its 60 s nap
	my $t0 = time;
	$app->quit;
	my $deadline = $t0 + 20;
	usleep(10_000) while status_of($id) ne 'FAILED' && time < $deadline;
	push @elapsed, time - $t0;
	is(status_of($id), 'FAILED', "run $n of a session that disconnected is FAILED");
}
my @sorted = sort { $a <=> $b } @elapsed;
my $median = $sorted[$#sorted / 2];
diag(sprintf('time to recovery after disconnect: median %.3f s, max %.3f s over %d disconnects (naptime 60 s)',
	$median, $sorted[-1], scalar @sorted));
cmp_ok($sorted[-1], '<', 5, 'every one well before the 60 s naptime');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT reason, ',') FROM recovery.history WHERE run_id LIKE 'disconnect-%'}),
	'owner_gone', 'history says owner_gone');
is($node->safe_psql('postgres', q{SELECT count(*) FROM recovery.claims}), '0', 'recovered runs leave no claims');

# The rest without the worker, to look at what find_stuck_runs says.
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.enabled = off; SELECT pg_reload_conf()});
$node->safe_psql('postgres', q{SELECT recovery.run_worker_now()});
wait_for($node, 'postgres', q{SELECT state = 'disabled' FROM recovery.worker_status()}, 'worker paused');

# 2. pg_terminate_backend: stuck at once with reason owner_gone, though the
#    timeout is an hour and the run is a minute old.
new_run('terminated', '1 minute');
my $app = $node->background_psql('postgres');
$app->query_safe(q{SELECT recovery.claim('qualification_runs', 'terminated')});
my $pid = $app->query_safe('SELECT pg_backend_pid()');
$pid =~ s/\s+//g;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid, 5000)");
is($node->safe_psql('postgres', q{SELECT reason || ' ' || action FROM recovery.find_stuck_runs('1 hour')
  WHERE run_id = 'terminated'}), 'owner_gone fail', 'a terminated session\'s run is stuck immediately: owner_gone');
eval { $app->quit };

# 3. A live claim outlasts the timeout: two hours old, claimed, not stuck.
new_run('long-and-alive', '2 hours');
my $live = $node->background_psql('postgres');
$live->query_safe(q{SELECT recovery.claim('qualification_runs', 'long-and-alive')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM recovery.find_stuck_runs('30 minutes') WHERE run_id = 'long-and-alive'}),
	'0', 'a claimed run whose session lives is not stuck past the timeout');
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.enabled = on; ALTER SYSTEM SET recovery.naptime = 1; SELECT pg_reload_conf()});
sleep 3;
is(status_of('long-and-alive'), 'PROCESSING', 'and the worker leaves it alone');
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.enabled = off; SELECT pg_reload_conf()});
wait_for($node, 'postgres', q{SELECT state = 'disabled' FROM recovery.worker_status()}, 'worker paused again');

# 4. A claim made before a server restart is dead after it.
$node->restart;
eval { $live->quit };
is($node->safe_psql('postgres', q{SELECT reason FROM recovery.find_stuck_runs('30 minutes') WHERE run_id = 'long-and-alive'}),
	'owner_gone', 'after a restart the claim is dead: owner_gone');

# 5. The worker forgets the claims of runs that finished, and only those: a
#    claim committed while it decides (its run unseen by it then) is kept.
#    A row-level security policy of the table (forced on its owner, an
#    ordinary role) makes the worker, and only it, wait on an advisory lock
#    held here while it reads the table, right inside that decision.
$node->safe_psql('postgres', q{
	CREATE ROLE gate_owner IN ROLE pg_read_all_stats;    -- to see that it is the worker
	CREATE FUNCTION public.gate(text) RETURNS boolean LANGUAGE plpgsql AS $$
	BEGIN
	  IF (SELECT backend_type FROM pg_catalog.pg_stat_activity
	      WHERE pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()) OPERATOR(pg_catalog.=) 'recovery worker' THEN
	    PERFORM pg_catalog.pg_advisory_xact_lock_shared(4242);
	  END IF;
	  RETURN true;
	END $$;
	CREATE TABLE public.gated_runs (id text PRIMARY KEY, status text NOT NULL,
	  "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now());
	ALTER TABLE public.gated_runs OWNER TO gate_owner;
	ALTER TABLE public.gated_runs ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
	CREATE POLICY gate ON public.gated_runs USING (public.gate(id));
	SELECT recovery.watch('gated_runs');
	INSERT INTO public.gated_runs (id, status) VALUES ('done', 'PROCESSING'), ('busy', 'PROCESSING');
	ALTER SYSTEM SET recovery.enabled = on; ALTER SYSTEM SET recovery.naptime = 60; SELECT pg_reload_conf();
});
wait_for($node, 'postgres', q{SELECT state = 'idle' FROM recovery.worker_status()}, 'worker back, napping');
my $holder = $node->background_psql('postgres');    # keeps its claims alive
$holder->query_safe(q{SELECT recovery.claim('gated_runs', 'done'), recovery.claim('gated_runs', 'busy')});
$node->safe_psql('postgres', q{UPDATE public.gated_runs SET status = 'COMPLETED' WHERE id = 'done'});
my $claimer = $node->background_psql('postgres');
$claimer->query_safe(q{BEGIN; INSERT INTO public.gated_runs (id, status) VALUES ('fresh', 'PROCESSING');
	SELECT recovery.claim('gated_runs', 'fresh')});
my $gate = $node->background_psql('postgres');
$gate->query_safe(q{SELECT pg_advisory_lock(4242)});
my $before = $node->safe_psql('postgres', q{SELECT last_run_at FROM recovery.worker_status()});
$node->safe_psql('postgres', q{SELECT recovery.run_worker_now()});
wait_for($node, 'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'recovery worker' AND wait_event = 'advisory'}, 'the worker waits at the gate');
$claimer->query_safe('COMMIT');
$gate->query_safe(q{SELECT pg_advisory_unlock(4242)});
wait_for($node, 'postgres', qq{SELECT last_run_at > '$before' FROM recovery.worker_status()}, 'its cycle ends');
is($node->safe_psql('postgres', q{SELECT string_agg(run_id, ',' ORDER BY run_id) FROM recovery.claims
	WHERE run_table = 'gated_runs'::regclass}), 'busy,fresh',
	'the finished run\'s claim is forgotten; the active one\'s and the one committed meanwhile are kept');
is($node->safe_psql('postgres', q{SELECT status FROM public.gated_runs WHERE id = 'fresh'}), 'PROCESSING',
	'and its run is untouched');
is($node->safe_psql('postgres', q{SELECT coalesce(last_error, 'none') FROM recovery.worker_status()}), 'none',
	'the worker\'s cycle had no error');
$_->quit for $holder, $claimer, $gate;

$node->stop;
done_testing();
