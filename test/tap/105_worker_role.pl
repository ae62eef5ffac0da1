# recovery.worker_role: a non-superuser worker recovers only what it may
# update; a table it may not update is logged and skipped, others still done.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

my $node = worker_node('role', conf => "recovery.enabled = off\n");
watch_seed($node, 'postgres');
$node->safe_psql('postgres', q{
CREATE ROLE recovery_bot LOGIN;
GRANT USAGE ON SCHEMA public TO recovery_bot;
GRANT SELECT, UPDATE ON qualification_runs TO recovery_bot;
CREATE TABLE secret_jobs (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
GRANT SELECT ON secret_jobs TO recovery_bot;
SELECT recovery.watch('secret_jobs');
INSERT INTO secret_jobs VALUES (1, 'PROCESSING', now() - interval '2 hours');
INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('mine', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours');
ALTER SYSTEM SET recovery.worker_role = 'recovery_bot';
ALTER SYSTEM SET recovery.enabled = on;
SELECT pg_reload_conf();
});

wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'mine'},
	'the worker, restarted as recovery_bot, recovers the table it may update');
is($node->safe_psql('postgres', q{SELECT recovered_by FROM recovery.history WHERE run_id = 'mine'}),
	'recovery_bot', 'as recovery_bot');
is($node->safe_psql('postgres', q{SELECT usename FROM pg_stat_activity WHERE backend_type = 'recovery worker'}),
	'recovery_bot', 'the worker session runs as the configured role');
wait_for($node, 'postgres', q{SELECT last_error LIKE '%permission denied to recover stuck runs of table public.secret_jobs%'
  FROM recovery.worker_status()}, 'worker_status shows the error');
ok($node->log_contains('permission denied to recover stuck runs of table public.secret_jobs'),
	'the error is logged, naming the table');
is($node->safe_psql('postgres', q{SELECT status FROM secret_jobs}), 'PROCESSING', 'the table it may not update is untouched');

# A later stuck run in the allowed table is still recovered (no crash loop).
$node->safe_psql('postgres', q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('later', 'icp1', 'PENDING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'later'},
	'the worker keeps going after the error');

$node->stop;
done_testing();
