# Metrics: recovery.table_status() counts the runs stuck now as the worker
# judges them (recovery.timeout, the claims), the recent history and the
# worker's last error per table, and shows only the tables the caller may
# read. Debian's prometheus-postgres-exporter, started here against the test
# node with examples/monitoring/queries.yaml, shows the stuck-run gauge, the
# 24-hour recovered gauge and the worker's recovered counter on /metrics.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IPC::Run;
use Time::HiRes qw(usleep);
use RecoveryTap;

my $exporter_bin = '/usr/bin/prometheus-postgres-exporter';
my $root = $ENV{RECOVERY_ROOT} // "$FindBin::RealBin/../..";
my $queries = "$root/examples/monitoring/queries.yaml";

# The worker is off at first (app_node): the counts stay put.
my $node = app_node('metrics', conf => "recovery.timeout = 30\nrecovery.naptime = 1\n");
watch_seed($node, 'postgres');

sub sql1 { return $node->safe_psql('postgres', $_[0]); }

sub status_row
{
	my ($table, $role) = @_;
	my $set = $role ? "SET ROLE $role; " : '';
	return $node->safe_psql('postgres',
		    "${set}SELECT concat_ws('|', coalesce(stuck_runs::text, ''), coalesce(oldest_stuck_minutes::text, ''), coalesce(recovered_24h::text, ''), "
		  . "last_recovered_at IS NOT NULL, coalesce(last_error, '-')) "
		  . "FROM recovery.table_status() WHERE run_table = '$table'");
}

# 1. Nothing stuck: zeros, no history.
is(status_row('public.qualification_runs'), '0||0|f|-', 'an empty table: nothing stuck');

# 2. Two runs past recovery.timeout (30 min), one fresh, one finished.
add_runs($node, 'postgres',
	['old1', 'PROCESSING', 90, 61],
	['old2', 'PENDING', 45, undef],
	['fresh', 'PROCESSING', 50, 2],
	['done', 'COMPLETED', 500, 400]);
is(status_row('public.qualification_runs'), '2|61|0|f|-',
	'stuck runs counted by recovery.timeout; the oldest by its last activity');

# 3. A claim whose session is gone makes a fresh run stuck at once.
sql1(q{SELECT recovery.claim('qualification_runs', 'fresh')});
is(status_row('public.qualification_runs'), '3|61|0|f|-', 'a claim of an ended session counts');

# 4. Visibility: a table whose owner's privileges the caller lacks is left
# out without an error; a member of the owning role sees it.
sql1(q{
	CREATE ROLE app_owner;
	CREATE ROLE monitor;
	CREATE ROLE member_monitor IN ROLE app_owner;
	CREATE TABLE other_runs (id int PRIMARY KEY, status text NOT NULL,
	  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz);
	ALTER TABLE other_runs OWNER TO app_owner;
	SELECT recovery.watch('other_runs', active_statuses => '{RUNNING}', failed_status => 'FAILED');
	INSERT INTO other_runs VALUES (1, 'RUNNING', now() - interval '2 hours', NULL);
	GRANT SELECT ON qualification_runs TO monitor;
});
is(status_row('public.other_runs'), '1|120|0|f|-', 'a superuser sees every table');
is($node->safe_psql('postgres', 'SET ROLE monitor; SELECT string_agg(run_table, \',\') FROM recovery.table_status()'),
	'', 'a role without the owners\' privileges sees none (a grant does not cover a table)');
is($node->safe_psql('postgres', 'SET ROLE member_monitor; SELECT string_agg(run_table, \',\') FROM recovery.table_status()'),
	'public.other_runs', 'a member of the owning role sees its tables');
sql1(q{REVOKE SELECT ON other_runs FROM app_owner});
is($node->safe_psql('postgres', 'SET ROLE member_monitor; SELECT count(*) FROM recovery.table_status()'),
	'0', 'without SELECT on the table it is left out, not an error');
sql1(q{GRANT SELECT ON other_runs TO app_owner});

# 5. A table the worker fails on: its error is the table's last_error.
sql1(q{
	CREATE TABLE bad_runs (id int PRIMARY KEY, status text NOT NULL,
	  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz, finished_at timestamptz);
	CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
	  $$BEGIN RAISE EXCEPTION 'bad_runs refuses %', NEW.status; END$$;
	CREATE TRIGGER refuse BEFORE UPDATE ON bad_runs FOR EACH ROW EXECUTE FUNCTION refuse();
	SELECT recovery.watch('bad_runs', active_statuses => '{RUNNING}', failed_status => 'FAILED');
	INSERT INTO bad_runs VALUES (1, 'RUNNING', now() - interval '3 hours', NULL, NULL);
});

# 6. The exporter, against this node.
ok(-x $exporter_bin, 'prometheus-postgres-exporter is installed') or die 'no exporter (bash scripts/install-deps.sh)';
ok(-f $queries, 'the queries file is there');
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $dsn = sprintf('host=%s port=%d user=%s dbname=postgres sslmode=disable',
	$node->host, $node->port, scalar getpwuid($<));
my ($out, $err) = ('', '');
my $exporter = do
{
	local $ENV{DATA_SOURCE_NAME} = $dsn;
	IPC::Run::start(
		[ $exporter_bin, "--extend.query-path=$queries", "--web.listen-address=127.0.0.1:$port" ],
		'<', \undef, '>', \$out, '2>', \$err);
};
my $http = HTTP::Tiny->new(timeout => 10);

# The /metrics page once it matches every pattern of @want (bounded).
sub scrape
{
	my (@want) = @_;
	my $page = '';
	for (1 .. 300)
	{
		my $r = $http->get("http://127.0.0.1:$port/metrics");
		$page = $r->{content} if $r->{success};
		return $page unless grep { $page !~ $_ } @want;
		usleep(100_000);
	}
	diag("exporter stderr: $err");
	return $page;
}

# One sample of metric $name for run_table $table, or undef.
sub sample
{
	my ($page, $name, $label, $value) = @_;
	for my $line (split /\n/, $page)
	{
		next unless $line =~ /^\Q$name\E\{([^}]*)\}\s+(\S+)$/;
		my ($labels, $v) = ($1, $2);
		return $v + 0 if $labels =~ /(?:^|,)\Q$label\E="\Q$value\E"/;
	}
	return undef;
}

my $page = scrape(qr/^recovery_table_stuck_runs\{.*run_table="public\.bad_runs"/m);
is(sample($page, 'recovery_table_stuck_runs', 'run_table', 'public.qualification_runs'),
	3, 'the exporter shows the stuck-run gauge');
is(sample($page, 'recovery_table_oldest_stuck_minutes', 'run_table', 'public.qualification_runs'),
	61, 'and the oldest stuck run\'s age');
is(sample($page, 'recovery_table_recovered_24h', 'run_table', 'public.qualification_runs'),
	0, 'nothing recovered yet');
like($page, qr/^# TYPE recovery_table_stuck_runs gauge$/m, 'stuck_runs is a gauge');
like($page, qr/^# TYPE recovery_worker_total_recovered counter$/m, 'total_recovered is a counter');
is(sample($page, 'recovery_worker_total_recovered', 'database', 'postgres'), 0,
	'the worker (disabled) recovered nothing');

# 7. The worker recovers: the gauges and the counter follow.
sql1(q{ALTER SYSTEM SET recovery.enabled = on; SELECT pg_reload_conf()});
wait_for($node, 'postgres',
	q{SELECT count(*) = 3 FROM recovery.history WHERE run_table = 'public.qualification_runs'},
	'the worker recovers the three stuck runs');
wait_for($node, 'postgres',
	q{SELECT last_error IS NOT NULL FROM recovery.table_status() WHERE run_table = 'public.bad_runs'},
	'the worker\'s error on bad_runs is its last_error');
like($node->safe_psql('postgres',
	q{SELECT last_error FROM recovery.table_status() WHERE run_table = 'public.bad_runs'}),
	qr/bad_runs refuses FAILED/, 'last_error is the worker\'s message');
is(status_row('public.qualification_runs'), '0||3|t|-', 'after recovery: none stuck, three recovered');

$page = scrape(qr/^recovery_table_recovered_24h\{[^}]*run_table="public\.qualification_runs"[^}]*\} 3$/m,
	qr/^recovery_table_error\{[^}]*run_table="public\.bad_runs"[^}]*\} 1$/m);
is(sample($page, 'recovery_table_stuck_runs', 'run_table', 'public.qualification_runs'),
	0, 'the exporter: no stuck runs left');
is(sample($page, 'recovery_table_recovered_24h', 'run_table', 'public.qualification_runs'),
	3, 'the exporter: three recovered in 24 hours');
cmp_ok(sample($page, 'recovery_table_last_recovered_timestamp_seconds', 'run_table',
	'public.qualification_runs'), '>', time - 600, 'the exporter: the last recovery is recent');
is(sample($page, 'recovery_table_stuck_runs', 'run_table', 'public.bad_runs'), 1,
	'the exporter: bad_runs is still stuck');
is(sample($page, 'recovery_table_error', 'run_table', 'public.bad_runs'), 1,
	'the exporter: bad_runs has an error');
is(sample($page, 'recovery_table_error', 'run_table', 'public.qualification_runs'), 0,
	'the exporter: qualification_runs has none');
$page = scrape(qr/^recovery_worker_total_recovered\{.*\} [1-9]/m);
cmp_ok(sample($page, 'recovery_worker_total_recovered', 'database', 'postgres'), '>=', 3,
	'the exporter: the worker\'s counter went up');

# 8. An undo is no recovery.
my $id = sql1(q{SELECT max(id) FROM recovery.history WHERE run_table = 'public.qualification_runs'});
sql1(q{ALTER SYSTEM SET recovery.enabled = off; SELECT pg_reload_conf()});
sql1(qq{SELECT recovery.undo($id)});
like(status_row('public.qualification_runs'), qr/^\d+\|\d*\|3\|t\|-$/,
	'an undo does not count as a recovery');

# 9. A table locked by a migration (ACCESS EXCLUSIVE) holds a scrape up no
# longer than recovery.lock_timeout: its row says why, the others are fine.
my ($lock_out, $lock_err) = ('', '');
my $locker = IPC::Run::start(
	[ 'psql', '-X', '-q', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
	  '-c', 'BEGIN; LOCK other_runs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);' ],
	'<', \undef, '>', \$lock_out, '2>', \$lock_err);
wait_for($node, 'postgres',
	q{SELECT count(*) > 0 FROM pg_locks WHERE relation = 'other_runs'::regclass AND mode = 'AccessExclusiveLock' AND granted},
	'a migration locks other_runs');
my $t0 = time;
my $rows = $node->safe_psql('postgres', q{SET recovery.lock_timeout = '200ms';
	SELECT string_agg(run_table || '=' || coalesce(stuck_runs::text, 'NULL') || ':' || coalesce(last_error, '-'), ' ' ORDER BY run_table)
	FROM recovery.table_status() WHERE run_table <> 'public.bad_runs'});
like($rows, qr{^public\.other_runs=NULL:.*lock timeout.* public\.qualification_runs=\d+:-$},
	'a locked table: its row has the lock timeout as last_error, the others are counted');
cmp_ok(time - $t0, '<', 30, 'the scrape did not wait for the lock');
$locker->kill_kill;
$locker->finish;

# 10. A table that no longer fits its registration is not counted, but shows
# up with the reason (for the caller that may read it).
sql1(q{
	CREATE TABLE broken_runs (id int PRIMARY KEY, status text NOT NULL,
	  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz);
	SELECT recovery.watch('broken_runs', active_statuses => '{RUNNING}', failed_status => 'FAILED');
	ALTER TABLE broken_runs DROP COLUMN created_at;
});
like(status_row('public.broken_runs'), qr/^\|\|\|f\|registration unusable: .+/,
	'an unusable registration: no counts, last_error says why');
is($node->safe_psql('postgres', q{SET ROLE monitor; SELECT count(*) FROM recovery.table_status()}),
	'0', 'not to a role that does not cover it');

$exporter->kill_kill;
$exporter->finish;
$node->stop;
done_testing();
