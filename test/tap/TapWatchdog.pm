
# Loaded into every test by the Makefile's PROVE_FLAGS (perl -MTapWatchdog),
# which run each test under `timeout`. On its SIGTERM the test dies instead of
# vanishing, so PostgreSQL::Test::Cluster's END block still stops the test's
# servers (and the failure says why); `timeout` sends SIGKILL only if that
# does not finish in time either.
package TapWatchdog;

use strict;
use warnings;

for my $signal ('TERM', 'INT')
{
	$SIG{$signal} = sub {
		my $limit = $ENV{RECOVERY_TAP_TIMEOUT} // '?';
		my $msg = "$0: stopped by SIG$signal (per-test limit ${limit}s)";
		if (Test::More->can('diag')) { Test::More::diag($msg) }
		else { print STDERR "# $msg\n" }
		die "stopped by SIG$signal\n";
	};
}

1;
