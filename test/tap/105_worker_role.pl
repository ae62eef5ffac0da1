# recovery.worker_role: a non-superuser worker covers the watched tables of
# roles whose privileges it has (it belongs to the owning role), running each
# table's code as its owner, and leaves the others out without running any
# of their code, a grant notwithstanding: said once in the log.
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
CREATE ROLE app_owner;
ALTER TABLE qualification_runs OWNER TO app_owner;
CREATE ROLE recovery_bot LOGIN IN ROLE app_owner;
CREATE TABLE secret_jobs (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
GRANT SELECT, UPDATE ON secret_jobs TO recovery_bot;
SELECT recovery.watch('secret_jobs');
INSERT INTO secret_jobs VALUES (1, 'PROCESSING', now() - interval '2 hours');
INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('mine', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours');
ALTER SYSTEM SET recovery.worker_role = 'recovery_bot';
ALTER SYSTEM SET recovery.enabled = on;
SELECT pg_reload_conf();
});

wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'mine'},
	'the worker, restarted as recovery_bot, recovers the table of the role it belongs to');
is($node->safe_psql('postgres', q{SELECT recovered_by FROM recovery.history WHERE run_id = 'mine'}),
	'recovery_bot', 'as recovery_bot');
is($node->safe_psql('postgres', q{SELECT usename FROM pg_stat_activity WHERE backend_type = 'recovery worker'}),
	'recovery_bot', 'the worker session runs as the configured role');
wait_for($node, 'postgres', q{SELECT last_run_at IS NOT NULL AND last_error IS NULL FROM recovery.worker_status()},
	'worker_status shows cycles without errors');
ok($node->log_contains(q{recovery worker: leaving out 1 watched table\(s\) whose owners' privileges role recovery_bot lacks}),
	'the table it leaves out is logged');
is($node->safe_psql('postgres', q{SELECT status FROM secret_jobs}), 'PROCESSING', 'the table it does not cover is untouched');

# A later stuck run in the covered table is still recovered, and the
# left-out line is not repeated every cycle.
$node->safe_psql('postgres', q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('later', 'icp1', 'PENDING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'later'},
	'the worker keeps going');
my $lines = () = slurp_file($node->logfile) =~ /leaving out 1 watched table/g;
is($lines, 1, 'said once');

$node->stop;
done_testing();
