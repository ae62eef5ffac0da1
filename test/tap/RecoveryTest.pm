# Shared helpers for recovery's TAP tests (PostgreSQL::Test::Cluster).
package RecoveryTest;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Exporter 'import';
use File::Basename;

our @EXPORT = qw(new_node seed_runs seed_schema_sql wait_for);

# The seed's schema, as the demo and the SQL suites use it.
sub seed_schema_sql
{
	my $root = $ENV{RECOVERY_ROOT} // dirname(__FILE__) . '/../..';
	return slurp_file("$root/demo/seed-schema.sql");
}

# A started node with recovery preloaded; extra postgresql.conf lines optional.
sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $opts{allows_streaming} ? 1 : 0);
	my $preload = $opts{preload} // 'recovery';
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = '$preload'
recovery.naptime = 1
log_min_messages = log
});
	$node->append_conf('postgresql.conf', $opts{conf}) if $opts{conf};
	$node->start;
	return $node;
}

# Creates the extension and the seed schema in $db and watches qualification_runs.
sub seed_runs
{
	my ($node, $db) = @_;
	$node->safe_psql($db, 'CREATE EXTENSION recovery');
	$node->safe_psql($db, seed_schema_sql());
	$node->safe_psql($db, q{
INSERT INTO "Company" VALUES ('c1', 'Stripe', 'stripe.com');
INSERT INTO "ICP" VALUES ('icp1', 'E-commerce', 'c1');
SELECT recovery.watch('qualification_runs');
});
}

# Polls $sql in $db until it returns 't' (bounded by the framework's timeout).
sub wait_for
{
	my ($node, $db, $sql, $what) = @_;
	ok($node->poll_query_until($db, $sql), $what);
}

1;
