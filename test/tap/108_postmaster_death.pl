# The launcher and the worker exit promptly when the postmaster dies (no
# orphan writing to the database after a crash of the server's parent process).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use RecoveryTap;

my $node = worker_node('pmdeath');
$node->safe_psql('postgres', 'CREATE EXTENSION recovery');
wait_for($node, 'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'recovery worker'},
	'the worker runs');
my @pids = split /\n/, $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity
  WHERE backend_type IN ('recovery launcher', 'recovery worker') ORDER BY backend_type});
is(scalar @pids, 2, 'with its launcher');
ok(kill(0, $_), "process $_ is alive") for @pids;

$node->kill9;    # SIGKILL to the postmaster only
my $t0 = time;
usleep(20_000) while (grep { kill(0, $_) } @pids) && time - $t0 < 10;
ok(!kill(0, $pids[0]), 'the launcher exits after the postmaster dies');
ok(!kill(0, $pids[1]), 'the worker exits after the postmaster dies');
cmp_ok(time - $t0, '<', 5, sprintf('promptly (%.2f s)', time - $t0));

done_testing();
