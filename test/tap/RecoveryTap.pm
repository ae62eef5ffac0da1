
# Shared set-up for recovery's PostgreSQL::Test::Cluster tests (test/tap/*.pl).
# The Makefile's PROVE_FLAGS put this directory on @INC (-I test/tap).
package RecoveryTap;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use File::Basename qw(dirname);
use JSON::PP ();
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(app_node worker_node setup_app watch_seed add_runs wait_for
  parse_notifications agreement_mismatches sqlstate_of require_extension processing_run run_status
  history_reasons start_pgbouncer stop_pgbouncers $PGBOUNCER);

# Debian's pgbouncer package.
our $PGBOUNCER = '/usr/sbin/pgbouncer';

# Skips the whole test file (plan skip_all: TAP reports it as skipped, with
# the reason) when the PostgreSQL under test (pg_config on PATH) does not
# have extension $ext installed: pg_cron is packaged for Debian's 15
# (postgresql-15-cron) but not built for 18 (scripts/pg18.sh). Call it before
# any test.
sub require_extension
{
	my ($ext) = @_;
	chomp(my $sharedir = `pg_config --sharedir`);
	chomp(my $version = `pg_config --version`);
	return if $sharedir ne '' && -f "$sharedir/extension/$ext.control";
	plan skip_all => "$ext is not installed for $version";
	return;
}

# A started node whose postgresql.conf preloads recovery (or $opts{preload}),
# plus any extra configuration lines. init options go through $opts{init}.
# The tests call recovery themselves: recovery's own background workers (the
# launcher starts one in every database with the extension) are paused with
# recovery.enabled = off so that they cannot race them.
sub app_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	my $preload = $opts{preload} // 'recovery';
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = '$preload'\n"
		  . "recovery.enabled = off\n"
		  . ($opts{conf} // ''));
	$node->start;
	return $node;
}

# Like app_node, but with recovery's background worker on, cycling every second.
sub worker_node
{
	my ($name, %opts) = @_;
	$opts{conf} = "recovery.enabled = on\nrecovery.naptime = 1\n" . ($opts{conf} // '');
	return app_node($name, %opts);
}

# Creates database $db with the seed app's schema (see watch_seed).
sub setup_app
{
	my ($node, $db) = @_;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	watch_seed($node, $db);
	return;
}

# In existing database $db: the seed app's schema (demo/seed-schema.sql), the
# extension, one company and ICP, and qualification_runs watched.
sub watch_seed
{
	my ($node, $db) = @_;
	my $root = $ENV{RECOVERY_ROOT} // dirname(__FILE__) . '/../..';
	$node->safe_psql($db, slurp_file("$root/demo/seed-schema.sql"));
	$node->safe_psql(
		$db, q{
		CREATE EXTENSION recovery;
		INSERT INTO "Company" VALUES ('co1', 'Acme', 'acme.test');
		INSERT INTO "ICP" VALUES ('icp1', 'CTOs', 'co1');
		SELECT recovery.watch('qualification_runs');
	});
	return;
}

# Polls $sql in $db until it returns 't' (bounded by PG_TEST_TIMEOUT_DEFAULT).
sub wait_for
{
	my ($node, $db, $sql, $what) = @_;
	ok($node->poll_query_until($db, $sql), $what);
	return;
}

# Inserts runs into qualification_runs. Each run is
# [id, status, minutes since createdAt, minutes since updatedAt or undef].
# Times are UTC wall-clock, as Prisma writes them.
sub add_runs
{
	my ($node, $db, @runs) = @_;
	my @values;
	for my $r (@runs)
	{
		my ($id, $status, $created, $updated) = @$r;
		my $upd =
		  defined $updated
		  ? "(now() AT TIME ZONE 'UTC') - make_interval(mins => $updated)"
		  : 'NULL';
		push @values,
		  "('$id', 'icp1', '$status', 10, 3, "
		  . "(now() AT TIME ZONE 'UTC') - make_interval(mins => $created), $upd)";
	}
	$node->safe_psql($db,
		    'INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", '
		  . 'completed, "createdAt", "updatedAt") VALUES '
		  . join(', ', @values));
	return;
}

# The NOTIFY messages psql printed, in order, as
# {channel, payload (raw text), pid, json (decoded payload or undef)}.
sub parse_notifications
{
	my ($output) = @_;
	my @found;
	while ($output =~
		/^Asynchronous notification "([^"]*)" with payload "(.*)" received from server process with PID (\d+)\.$/mg
	  )
	{
		my %n = (channel => $1, payload => $2, pid => $3);
		$n{json} = eval { JSON::PP->new->decode($n{payload}) };
		push @found, \%n;
	}
	return @found;
}

# Rows where qualification_runs and recovery.history disagree: a FAILED run
# without exactly one history row, or a history row whose run is not FAILED
# (or whose run's completedAt is unset). 0 means they agree row for row.
sub agreement_mismatches
{
	my ($node, $db) = @_;
	return $node->safe_psql(
		$db, q{
		WITH h AS (SELECT run_id, count(*) AS n FROM recovery.history
		           WHERE run_table = 'public.qualification_runs' GROUP BY run_id)
		SELECT count(*) FROM qualification_runs r FULL JOIN h ON h.run_id = r.id
		WHERE (r.status = 'FAILED') IS DISTINCT FROM (h.n IS NOT NULL)
		   OR h.n > 1
		   OR (r.status = 'FAILED') IS DISTINCT FROM (r."completedAt" IS NOT NULL)
	});
}

# A PROCESSING run $id of qualification_runs in database postgres, created
# $age ago (an interval, UTC wall clock as Prisma writes it).
sub processing_run
{
	my ($node, $id, $age) = @_;
	$node->safe_psql('postgres', qq{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
	  VALUES ('$id', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '$age')});
	return;
}

# The status of run $id of qualification_runs in database postgres.
sub run_status
{
	my ($node, $id) = @_;
	return $node->safe_psql('postgres', qq{SELECT status FROM qualification_runs WHERE id = '$id'});
}

# The reasons recovery.history gives for run $id, comma-separated.
sub history_reasons
{
	my ($node, $id) = @_;
	return $node->safe_psql('postgres', qq{SELECT string_agg(reason, ',') FROM recovery.history WHERE run_id = '$id'});
}

my @pgbouncer_pidfiles;

# Starts a PgBouncer (Debian's, $PGBOUNCER) in pool mode $mode in front of
# $node's database postgres, on a free localhost port, with
# $opts{pool_size} server backends (1 by default); checks it answers, and
# returns a node-like object whose psql calls go through it (its host and
# port are the pooler's). stop_pgbouncers (also run at exit) stops them all.
sub start_pgbouncer
{
	my ($node, $mode, %opts) = @_;
	my $pool_size = $opts{pool_size} // 1;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $host = $node->host;
	my $server_port = $node->port;
	my $user = `id -un`;
	chomp $user;
	PostgreSQL::Test::Utils::append_to_file("$dir/users.txt", qq{"$user" ""\n});
	PostgreSQL::Test::Utils::append_to_file(
		"$dir/pgbouncer.ini", qq{[databases]
postgres = host=$host port=$server_port dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = $mode
default_pool_size = $pool_size
max_client_conn = 50
server_reset_query = DISCARD ALL
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
});
	system($PGBOUNCER, '-q', '-d', "$dir/pgbouncer.ini") == 0 or die "pgbouncer did not start";
	push @pgbouncer_pidfiles, "$dir/pgbouncer.pid";
	my $pooler = bless { %$node }, 'PostgreSQL::Test::Cluster';
	$pooler->{_host} = '127.0.0.1';
	$pooler->{_port} = $port;
	for (1 .. 100)
	{
		last if $pooler->psql('postgres', 'SELECT 1') == 0;
		usleep(100_000);
	}
	is($pooler->safe_psql('postgres', 'SELECT 1'), '1', "PgBouncer in $mode mode on port $port");
	return $pooler;
}

sub stop_pgbouncers
{
	for my $pidfile (@pgbouncer_pidfiles)
	{
		next unless -f $pidfile;
		my $pid = slurp_file($pidfile);
		chomp $pid;
		kill 'TERM', $pid if $pid =~ /^\d+$/;
	}
	return;
}

END { stop_pgbouncers() }

# The SQLSTATE of psql's error output (run with VERBOSITY verbose).
sub sqlstate_of
{
	my ($stderr) = @_;
	return $stderr =~ /ERROR:\s+([0-9A-Z]{5}):/ ? $1 : undef;
}

1;
