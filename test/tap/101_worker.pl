# The background worker recovers stuck runs by itself, leaves fresh ones,
# reports through worker_status(), logs one line per productive cycle, and
# follows recovery.* settings on reload.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

my $node = worker_node('worker');
watch_seed($node, 'postgres');

my $insert = q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt") VALUES };
$node->safe_psql('postgres', $insert . q{
  ('stuck', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours'),
  ('fresh', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '1 minute'),
  ('done',  'icp1', 'COMPLETED',  (now() AT TIME ZONE 'UTC') - interval '3 hours')});

# naptime 1s: within two naptimes (with slack for a loaded machine).
my $start = time;
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'stuck'},
	'the worker recovers a stuck run');
cmp_ok(time - $start, '<=', 10, 'within a few naptimes');
is($node->safe_psql('postgres', q{SELECT string_agg(id || '=' || status, ',' ORDER BY id) FROM qualification_runs}),
	'done=COMPLETED,fresh=PROCESSING,stuck=FAILED', 'fresh and finished runs are untouched');
is($node->safe_psql('postgres', q{SELECT run_id || ' ' || reason || ' ' || application_name || ' ' || recovered_by FROM recovery.history}),
	'stuck timeout recovery worker ' . $node->safe_psql('postgres', 'SELECT current_user'),
	'history names the worker');
wait_for($node, 'postgres', q{SELECT state = 'idle' AND total_recovered = 1 AND last_run_at IS NOT NULL
  AND last_error IS NULL AND pid > 0 FROM recovery.worker_status()}, 'worker_status reflects it');
ok($node->log_contains('recovery worker: recovered 1 stuck run in database "postgres" \(public.qualification_runs: 1\)'),
	'one LOG line for the productive cycle');

# Idle cycles say nothing.
my $lines = () = slurp_file($node->logfile) =~ /recovery worker: recovered/g;
sleep 3;
my $after = () = slurp_file($node->logfile) =~ /recovery worker: recovered/g;
is($after, $lines, 'idle cycles log nothing');

# recovery.enabled = off pauses the worker without a restart.
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.enabled = off; SELECT pg_reload_conf()});
wait_for($node, 'postgres', q{SELECT state = 'disabled' FROM recovery.worker_status()}, 'disabled on reload');
$node->safe_psql('postgres', $insert . q{('paused', 'icp1', 'PENDING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
sleep 3;
is($node->safe_psql('postgres', q{SELECT status FROM qualification_runs WHERE id = 'paused'}), 'PENDING',
	'a disabled worker recovers nothing');
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.enabled = on; SELECT pg_reload_conf()});
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'paused'},
	're-enabled on reload, it recovers');

# recovery.timeout follows reload: a 10-minute-old run is stuck only at 5min.
$node->safe_psql('postgres', $insert . q{('ten', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '10 minutes')});
sleep 3;
is($node->safe_psql('postgres', q{SELECT status FROM qualification_runs WHERE id = 'ten'}), 'PROCESSING',
	'not stuck at the default 30min timeout');
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.timeout = '5min'; SELECT pg_reload_conf()});
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'ten'},
	'stuck once recovery.timeout is 5min');
is($node->safe_psql('postgres', 'SHOW recovery.timeout'), '5min', 'SHOW has the new timeout');

# History retention: the worker deletes rows older than
# recovery.history_retention (90 days by default); 0 keeps everything.
my $ancient = q{INSERT INTO recovery.history (recovered_at, run_table, run_id, previous_status,
  new_status, stuck_minutes, reason, action, recovered_by)
  VALUES (now() - interval '100 days', 'public.qualification_runs', '%s', 'PROCESSING', 'FAILED', 1,
          'timeout', 'fail', current_user)};
$node->safe_psql('postgres', sprintf($ancient, 'ancient-1'));
wait_for($node, 'postgres', q{SELECT NOT EXISTS (SELECT 1 FROM recovery.history WHERE run_id = 'ancient-1')},
	'the worker prunes history older than the retention');
is($node->safe_psql('postgres', q{SELECT count(*) > 0 FROM recovery.history}), 't', 'recent history stays');
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.history_retention = 0; SELECT pg_reload_conf()});
sleep 2;
$node->safe_psql('postgres', sprintf($ancient, 'ancient-2'));
sleep 3;
is($node->safe_psql('postgres', q{SELECT count(*) FROM recovery.history WHERE run_id = 'ancient-2'}), '1',
	'retention 0 keeps everything');

# recovery.naptime follows reload; run_worker_now() wakes it at once.
$node->safe_psql('postgres', q{ALTER SYSTEM SET recovery.naptime = '1h'; SELECT pg_reload_conf()});
sleep 3;    # let it fall asleep on the long naptime
$node->safe_psql('postgres', $insert . q{('wake', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
sleep 2;
is($node->safe_psql('postgres', q{SELECT status FROM qualification_runs WHERE id = 'wake'}), 'PROCESSING',
	'with naptime 1h the worker sleeps');
is($node->safe_psql('postgres', q{SELECT recovery.run_worker_now()}), 't', 'run_worker_now finds the worker');
$start = time;
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'wake'},
	'run_worker_now triggers a cycle');
cmp_ok(time - $start, '<=', 5, 'at once, not after the naptime');

# SIGTERM: the worker exits promptly (and the postmaster restarts it).
my $pid = $node->safe_psql('postgres', 'SELECT pid FROM recovery.worker_status()');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
wait_for($node, 'postgres', "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $pid)",
	'the worker exits on SIGTERM');
wait_for($node, 'postgres', "SELECT pid <> $pid AND pid > 0 FROM recovery.worker_status()",
	'and is restarted');

$node->stop;
done_testing();
