# pg_upgrade of a cluster where recovery is preloaded in both the old and
# the new cluster (as an operator's copied configuration has it) and in use:
# registrations, history, settings and the background worker carry over;
# claims made before the upgrade are dead after it (their runs become
# owner_gone), and the new cluster's worker recovers them by itself.
#
# Within one major: both clusters of the PostgreSQL under test (pg_config on
# PATH), pg_upgrade -b and -B the same bindir. From 15 to 18 (when the
# PostgreSQL under test is newer than 15 and Debian's 15 is installed):
# first a plain cluster with no extension at all; while that fails on this
# machine for every database (Debian's 15.20 stores a column option,
# pg_attver, that 18 does not know), the 15 to 18 upgrade of recovery is
# skipped by name, with the reason.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use Cwd qw(getcwd);
use File::Find ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

chomp(my $bindir = `pg_config --bindir`);
chomp(my $version = `pg_config --version`);
my ($major) = $version =~ /(\d+)/;
plan skip_all => "pg_upgrade is not installed for $version ($bindir)"
  unless -x "$bindir/pg_upgrade";

my $os_user = getpwuid($<);
my $preload = "shared_preload_libraries = 'recovery'\nrecovery.naptime = 1\n";

# Runs pg_upgrade from $old to $new (stopped) from a writable directory, as
# the bootstrap user (this OS user). Returns (exit ok, its output, and the
# text of every log it left in the new cluster's pg_upgrade_output.d).
sub pg_upgrade
{
	my ($old, $new, $old_bindir, $new_bindir) = @_;
	my $cwd = getcwd();
	my $dir = PostgreSQL::Test::Utils::tempdir();
	chdir $dir or die "chdir $dir: $!";
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[
			"$new_bindir/pg_upgrade", '--no-sync',
			'-b', $old_bindir, '-B', $new_bindir,
			'-d', $old->data_dir, '-D', $new->data_dir,
			'-p', $old->port, '-P', $new->port,
			'-s', $new->host, '-U', $os_user
		],
		'>', \$stdout, '2>', \$stderr);
	chdir $cwd or die "chdir $cwd: $!";
	my $logs = '';
	for my $root ($new->data_dir . '/pg_upgrade_output.d', $dir)
	{
		next unless -d $root;
		File::Find::find(
			sub { $logs .= slurp_file($_) if -f $_ && /\.(log|txt)$/ },
			$root);
	}
	note("pg_upgrade: $stdout$stderr");
	return ($ok, $stdout . $stderr, $logs);
}

# initdb options for a new cluster whose old one is a 15 (initdb's
# default, no checksums): 18's initdb turns them on by default, and
# pg_upgrade needs both alike.
sub no_checksums
{
	return $major >= 18 ? ['--no-data-checksums'] : [];
}

# The whole scenario, old cluster of install $old_install (undef: the one
# under test) to a new one of the PostgreSQL under test. $label names it.
sub upgrade_in_use
{
	my ($label, $old_install) = @_;
	my $tag = $label =~ s/\W+/_/gr;
	my $old = PostgreSQL::Test::Cluster->new("old_$tag",
		defined $old_install ? (install_path => $old_install) : ());
	my $new = PostgreSQL::Test::Cluster->new("new_$tag");
	my $old_bindir = defined $old_install ? "$old_install/bin" : $bindir;
	$old->init;
	$new->init(defined $old_install ? (extra => no_checksums()) : ());
	$old->append_conf('postgresql.conf', $preload);
	$new->append_conf('postgresql.conf', $preload);
	$old->start;

	# In use: a watched table with runs, recoveries in history, settings of
	# the server (ALTER SYSTEM) and of the database, and a worker.
	$old->safe_psql('postgres', 'CREATE DATABASE app');
	watch_seed($old, 'app');
	$old->safe_psql('app', q{ALTER SYSTEM SET recovery.timeout = '45min'; SELECT pg_reload_conf()});
	$old->safe_psql('postgres', q{ALTER DATABASE app SET recovery.lock_timeout = '2500ms'});
	add_runs($old, 'app', ['old-1', 'PROCESSING', 120, 90], ['old-2', 'PENDING', 200, undef],
		['fresh', 'PROCESSING', 1, 1]);
	wait_for($old, 'app', q{SELECT count(*) = 2 FROM recovery.history},
		"$label: the old cluster's worker recovers the stuck runs");
	wait_for($old, 'app', q{SELECT count(*) = 1 FROM recovery.worker_status() WHERE database = 'app'},
		"$label: the old cluster's worker shows in worker_status");

	# A claim held by a session that is still open when the old cluster stops.
	$old->safe_psql('app', q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
	  VALUES ('claimed', 'icp1', 'PROCESSING', now() AT TIME ZONE 'UTC')});
	my $app = $old->background_psql('app');
	$app->query_safe(q{SELECT recovery.claim('qualification_runs', 'claimed')});
	is($old->safe_psql('app', q{SELECT count(*) FROM recovery.find_stuck_runs('30 minutes') WHERE run_id = 'claimed'}),
		'0', "$label: before the upgrade the claimed run is not stuck");

	my $describe = q{
	  SELECT (SELECT string_agg(table_name || ' ' || status_column, ',') FROM recovery.watched_tables)
	    || ' | ' || (SELECT string_agg(run_id || ' ' || reason || ' ' || new_status, ',' ORDER BY run_id)
	                 FROM recovery.history WHERE run_id <> 'claimed')
	    || ' | ' || (SELECT extversion FROM pg_extension WHERE extname = 'recovery')};
	my $before = $old->safe_psql('app', $describe);
	my $history_ids = $old->safe_psql('app', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM recovery.history});
	is($old->safe_psql('app', q{SELECT run_id FROM recovery.claims}), 'claimed', "$label: the claim is held");

	# The old cluster's worker is paused for its last moments (its own
	# postgresql.conf, not copied): the claiming session ends as the server
	# stops, and its exit must not be recovered there.
	$old->append_conf('postgresql.conf', "recovery.enabled = off\n");
	$old->reload;
	wait_for($old, 'app', q{SELECT state = 'disabled' FROM recovery.worker_status() WHERE database = 'app'},
		"$label: the old cluster's worker paused for the stop");
	$old->stop;
	eval { $app->quit };

	# The operator's copied configuration: postgresql.auto.conf (ALTER
	# SYSTEM) is not carried by pg_upgrade; the preload is already in both.
	PostgreSQL::Test::Utils::append_to_file($new->data_dir . '/postgresql.auto.conf',
		join('', grep { /^recovery\./ } split /^/, slurp_file($old->data_dir . '/postgresql.auto.conf')));

	my ($ok, $out, $logs) = pg_upgrade($old, $new, $old_bindir, $bindir);
	ok($ok, "$label: pg_upgrade succeeds") or diag("$out\n$logs");
	return unless $ok;
	$new->start;

	# The new worker may already have recovered the claimed run (it starts
	# with the server): that history row is left out here, and checked below.
	is($new->safe_psql('app', $describe), $before, "$label: registrations and history carry over");
	is($new->safe_psql('app', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM recovery.history WHERE run_id <> 'claimed'}),
		$history_ids, "$label: history keeps its ids");
	is($new->safe_psql('app', q{SELECT current_setting('recovery.timeout') || ' ' || current_setting('recovery.lock_timeout')}),
		'45min 2500ms', "$label: server and database settings carry over");
	is($new->safe_psql('app', q{SELECT count(*) FROM recovery.find_stuck_runs('1 day') WHERE run_id = 'fresh'}),
		'0', "$label: an unclaimed young run stays live");
	wait_for($new, 'app', q{SELECT count(*) = 1 FROM recovery.worker_status() WHERE database = 'app' AND pid IS NOT NULL},
		"$label: the new cluster's worker starts by itself and shows in worker_status");
	wait_for($new, 'app', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'claimed'},
		"$label: the new cluster's worker recovers the claimed run by itself");
	# Its claim carried over (unclaimed, the run is far from the timeout, as
	# 'fresh' shows) and is dead: owner_gone.
	is($new->safe_psql('app', q{SELECT reason FROM recovery.history WHERE run_id = 'claimed'}),
		'owner_gone', "$label: the claim made before the upgrade is dead: owner_gone");
	is($new->safe_psql('app', q{SELECT id > (SELECT max(id) FROM recovery.history WHERE run_id <> 'claimed')
	  FROM recovery.history WHERE run_id = 'claimed'}), 't', "$label: the history sequence carries on");
	is($new->safe_psql('app', q{SELECT count(*) FROM recovery.claims}), '0', "$label: and leaves no claim");
	is($new->safe_psql('app', q{SELECT status FROM qualification_runs WHERE id = 'fresh'}), 'PROCESSING',
		"$label: the live run is left alone");
	is(agreement_mismatches($new, 'app'), '0', "$label: runs and history agree");
	$new->stop;
	return;
}

upgrade_in_use("within $major", undef);

# From 15 to this major (on 15 itself there is nothing to try: the 18 run
# tries it).
my $old15 = '/usr/lib/postgresql/15';
SKIP:
{
	last SKIP if $major <= 15;
	skip "pg_upgrade from 15 to $major: PostgreSQL 15 is not installed in $old15", 1
	  unless -x "$old15/bin/initdb";

	# A plain cluster first: no extension, nothing preloaded, one ordinary
	# table.
	my $plain_old = PostgreSQL::Test::Cluster->new('plain_old15', install_path => $old15);
	my $plain_new = PostgreSQL::Test::Cluster->new('plain_new');
	$plain_old->init;
	$plain_new->init(extra => no_checksums());
	$plain_old->start;
	$plain_old->safe_psql('postgres', q{CREATE TABLE plain (id int PRIMARY KEY, name text);
	  INSERT INTO plain VALUES (1, 'one')});
	$plain_old->stop;
	my ($ok, $out, $logs) = pg_upgrade($plain_old, $plain_new, "$old15/bin", $bindir);
	if (!$ok && "$out\n$logs" =~ /pg_attver/)
	{
		my ($line) = "$out\n$logs" =~ /^(.*ERROR:.*pg_attver.*)$/m;
		($line) = "$out\n$logs" =~ /^(.*pg_attver.*)$/m unless defined $line;
		diag("pg_upgrade from 15 to $major of a plain cluster: $line");
		skip "pg_upgrade from 15 to $major: fails for every database, not only recovery's "
		  . "(Debian's 15 stores column option pg_attver, unknown to $major)", 1;
	}
	ok($ok, "pg_upgrade from 15 to $major of a plain cluster") or diag("$out\n$logs");
	skip "pg_upgrade from 15 to $major: recovery is not installed for PostgreSQL 15", 1
	  unless $ok && -f "$old15/lib/recovery.so" && -f '/usr/share/postgresql/15/extension/recovery.control';
	upgrade_in_use("from 15 to $major", $old15);
}

done_testing();
