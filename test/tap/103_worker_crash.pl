# A server crash (immediate stop) in the middle of a worker cycle: after the
# restart the worker is back, history and statuses agree row for row (no
# half-done recovery), and the worker finishes the job.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

my $node = worker_node('crash', conf => "restart_after_crash = on\nrecovery.batch_size = 50\n");
watch_seed($node, 'postgres');
# Each recovered row sleeps 20 ms in a trigger: a batch of 50 takes ~1 s,
# so the stop lands mid-transaction.
$node->safe_psql('postgres', q{
CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.02); RETURN NEW; END $$;
CREATE TRIGGER slow BEFORE UPDATE ON qualification_runs FOR EACH ROW EXECUTE FUNCTION slow_down();
INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
SELECT 'run-' || g, 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours'
FROM generate_series(1, 400) g;
});
wait_for($node, 'postgres', q{SELECT count(*) > 0 FROM recovery.history}, 'the worker is mid-way');
$node->stop('immediate');
$node->start;

my $agree = q{SELECT
  (SELECT count(*) FROM qualification_runs WHERE status = 'FAILED')
  = (SELECT count(*) FROM recovery.history)
  AND NOT EXISTS (SELECT 1 FROM recovery.history h JOIN qualification_runs q ON q.id = h.run_id WHERE q.status <> 'FAILED')
  AND NOT EXISTS (SELECT 1 FROM qualification_runs q WHERE q.status = 'FAILED'
                  AND NOT EXISTS (SELECT 1 FROM recovery.history h WHERE h.run_id = q.id))};
is($node->safe_psql('postgres', $agree), 't', 'after the crash, statuses and history agree row for row');
my $done = $node->safe_psql('postgres', q{SELECT count(*) FROM recovery.history});
cmp_ok($done, '<', 400, "the crash interrupted the work ($done of 400 done)");
is($node->safe_psql('postgres', q{SELECT count(*) % 50 FROM recovery.history}), '0',
	'only whole batches committed');

wait_for($node, 'postgres', q{SELECT count(*) = 400 FROM recovery.history}, 'the restarted worker finishes the job');
is($node->safe_psql('postgres', $agree), 't', 'statuses and history still agree');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT run_id) FROM recovery.history}), '400', 'one history row per run');

$node->stop;
done_testing();
