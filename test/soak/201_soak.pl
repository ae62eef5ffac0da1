# Concurrency soak: pgbench clients play the app (create runs, bump progress,
# complete or fail them, "die" on some), other pgbench clients call the SQL
# API in a tight loop, and the background worker cycles every second, all on
# the same tables for RECOVERY_SOAK_SECONDS (default 60). Afterwards the
# invariants are checked from two independent records: the app's own record
# of what it wrote (soak.app_runs, same transaction as each write) and a
# trigger log of every change to a run with who made it (soak.transitions).
#
#   wrong      recovery changed a run it must not have: not active, not idle
#              past the timeout at that moment, or a column other than
#              status/finished, or to anything but the failed status
#   lost       a run's progress or activity differs from the app's last write
#   history    every recovery has exactly one matching recovery.history row
#              (same run, statuses, time, caller, last activity) and back
#   notify     one NOTIFY recovery per history row, none extra
#   dead       every run the app abandoned (and everything left active when
#              the app stopped) is recovered in the end
#   errors     no ERROR/FATAL/PANIC/WARNING in the server log, no deadlock,
#              no recoverer ever waited for a lock, no pgbench failure
#
# The bench/soak/*.sql files hold the schema and the pgbench scripts.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use RecoveryTap;

my $seconds     = $ENV{RECOVERY_SOAK_SECONDS}     // 60;
my $backlog     = $ENV{RECOVERY_SOAK_BACKLOG}     // 1500;
my $app_clients = $ENV{RECOVERY_SOAK_APP_CLIENTS} // 4;
my $recoverers  = $ENV{RECOVERY_SOAK_RECOVERERS}  // 2;
my $root  = $ENV{RECOVERY_ROOT} // "$FindBin::RealBin/../..";
my $bench = "$root/bench/soak";

# The A timeout of the recoverers' calls; B's is the worker's 1 minute.
my %timeout = (A => '3 seconds', B => '1 minute');

my $node = worker_node(
	'soak', conf => join("\n",
		'recovery.timeout = 1min',    # B: 5 s of real idleness (see schema.sql)
		'recovery.batch_size = 100',
		'log_statement = none',
		'log_lock_waits = on',
		'deadlock_timeout = 100ms',
		"max_connections = " . (20 + $app_clients + $recoverers), ''));
watch_seed($node, 'postgres');
$node->safe_psql('postgres', slurp_file("$bench/schema.sql"),
	extra_params => [ '-v', "backlog=$backlog" ]);
is($node->safe_psql('postgres', 'SELECT count(*) FROM recovery.watched_tables'), '2', 'two watched tables');

# The listener: every NOTIFY recovery of the whole run.
my $listener = $node->background_psql('postgres');
$listener->set_query_timer_restart;    # the timeout is per query, not per session
$listener->query_safe('LISTEN recovery');
my $heard = '';

# pgbench in the background: $clients clients for $seconds, as application $app.
my @pgbench_common = ('pgbench', '-n', '-h', $node->host, '-p', $node->port, '-T', $seconds);
sub start_pgbench
{
	my ($app, $clients, @scripts) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGAPPNAME} = $app;
	my @cmd = (@pgbench_common, '-c', $clients, '-j', ($clients > 1 ? 2 : 1),
		map { ('-f', $_) } @scripts);
	push @cmd, 'postgres';
	my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err, app => $app };
}

my $log_offset = -s $node->logfile;
my $started = time;
my @benches = (
	start_pgbench('soak-app', $app_clients, "$bench/app_a.sql\@1", "$bench/app_b.sql\@1"),
	start_pgbench('soak-rec', $recoverers, "$bench/recover.sql"));
# While they run, drain the listener now and then (psql prints the
# notifications it got when it runs a command).
while (my @running = grep { $_->{h}->pumpable } @benches)
{
	$_->{h}->pump_nb for @running;
	$heard .= $listener->query('SELECT 1') . "\n";
	usleep(500_000);
}
my $soak_elapsed = time - $started;
my %tx;
for my $b (@benches)
{
	$b->{h}->finish;
	my $ok = $b->{h}->result == 0;
	ok($ok, "pgbench $b->{app} exits 0") or diag(${ $b->{err} } . ${ $b->{out} });
	my ($n) = ${ $b->{out} } =~ /number of transactions actually processed: (\d+)/;
	my ($failed) = ${ $b->{out} } =~ /number of failed transactions: (\d+)/;
	$tx{ $b->{app} } = $n // 0;
	is($failed // 0, 0, "no failed $b->{app} transactions");
	my ($tps) = ${ $b->{out} } =~ /tps = ([\d.]+) \(without/;
	my ($lat) = ${ $b->{out} } =~ /latency average = ([\d.]+ ms)/;
	diag(sprintf('%-8s %6d transactions, %s tps, latency average %s', $b->{app}, $n // 0,
			$tps // '?', $lat // '?'));
}
cmp_ok($tx{'soak-app'}, '>', 0, 'the app made progress');

# Drain: the app has stopped, so every run still active is dead now. The
# recoverers' timeout (3 s) and the worker's (5 s real) pass; then nothing
# may be left active.
my $active = q{SELECT (SELECT count(*) FROM qualification_runs WHERE status IN ('PENDING', 'PROCESSING'))
  + (SELECT count(*) FROM app_jobs WHERE state IN ('queued', 'running'))};
my $left_at_stop = $node->safe_psql('postgres', $active);
my $drain_start = time;
for (1 .. 60)
{
	sleep 1;
	$node->safe_psql('postgres', q{SET application_name = 'soak-drain';
		SELECT count(*) FROM recovery.recover_stuck_runs('3 seconds', NULL, 'qualification_runs')});
	last if $node->safe_psql('postgres', $active) eq '0';
}
is($node->safe_psql('postgres', $active), '0',
	"every run left active is recovered after the app stops ($left_at_stop left, drained in "
	  . int(time - $drain_start + 0.5) . ' s)');

# The last notifications (delivered at commit; psql shows them on its next command).
my $history_count = $node->safe_psql('postgres', 'SELECT count(*) FROM recovery.history');
for (1 .. 40)
{
	$heard .= $listener->query('SELECT 1') . "\n";
	last if scalar(() = $heard =~ /^Asynchronous notification "recovery"/mg) >= $history_count;
	usleep(250_000);
}
$listener->quit;

# --- invariants -------------------------------------------------------------

sub count_of { return $node->safe_psql('postgres', $_[0]) }

# Recovery's changes: the trigger log rows not written by the app (nor set-up).
my $rec = q{(SELECT * FROM soak.transitions WHERE app NOT IN ('soak-app', 'soak-setup'))};
my $tmo = qq{(CASE tbl WHEN 'A' THEN interval '$timeout{A}' ELSE interval '$timeout{B}' END)};
my $wrong_sql = qq{SELECT count(*) FROM $rec r WHERE NOT (
	op = 'UPDATE'
	AND old_status = ANY (CASE tbl WHEN 'A' THEN '{PENDING,PROCESSING}'::text[] ELSE '{queued,running}' END)
	AND new_status = CASE tbl WHEN 'A' THEN 'FAILED' ELSE 'dead' END
	AND NOT others_changed
	AND old_progress = new_progress AND old_activity = new_activity
	AND old_activity < at - $tmo
	AND abs(extract(epoch FROM new_finished - at)) < 0.001)};
my $wrong = count_of($wrong_sql);
is($wrong, '0', 'recovery changed only active runs idle past the timeout, and only status and finished');
diag(count_of(qq{SELECT string_agg(format('%s %s %s->%s at %s old activity %s by %s', tbl, run_id,
	old_status, new_status, at, old_activity, app), E'\n') FROM (SELECT * FROM $rec r WHERE id IN
	(SELECT id FROM $rec r WHERE NOT (op = 'UPDATE' AND old_activity < at - $tmo AND NOT others_changed))
	LIMIT 10) s})) if $wrong ne '0';

# Runs the app completed or failed: exactly as the app left them, never touched by recovery.
my $app_finished_changed = count_of(q{
	SELECT count(*) FROM soak.app_runs a
	LEFT JOIN qualification_runs q ON a.tbl = 'A' AND q.id = 'A' || a.n
	LEFT JOIN app_jobs j ON a.tbl = 'B' AND j.job_id = a.n
	WHERE a.state = 'finished' AND (
	     coalesce(q.status::text, j.state) IS DISTINCT FROM a.status
	  OR coalesce(q."completedAt" AT TIME ZONE 'UTC', j.finished_at) IS DISTINCT FROM a.finished
	  OR EXISTS (SELECT 1 FROM soak.transitions t WHERE t.tbl = a.tbl
	             AND t.run_id = CASE a.tbl WHEN 'A' THEN 'A' || a.n ELSE a.n::text END
	             AND t.app NOT IN ('soak-app', 'soak-setup')))});
is($app_finished_changed, '0', 'no run completed or failed by the app was changed by recovery');

# Lost updates: the app's last progress and activity writes are in the row.
my $lost = count_of(q{
	SELECT count(*) FROM soak.app_runs a
	LEFT JOIN qualification_runs q ON a.tbl = 'A' AND q.id = 'A' || a.n
	LEFT JOIN app_jobs j ON a.tbl = 'B' AND j.job_id = a.n
	WHERE coalesce(q.completed, j.progress) IS DISTINCT FROM a.progress
	   OR coalesce(q."updatedAt" AT TIME ZONE 'UTC', j.heartbeat_at) IS DISTINCT FROM a.activity});
is($lost, '0', 'no progress update lost: every row holds the app\'s last write');
my $runs = count_of('SELECT count(*) FROM soak.app_runs');

# History: recovery's transitions and recovery.history match one to one.
my $match = qq{h.run_table = CASE r.tbl WHEN 'A' THEN 'public.qualification_runs' ELSE 'public.app_jobs' END
	AND h.run_id = r.run_id AND h.previous_status = r.old_status AND h.new_status = r.new_status
	AND h.recovered_at = r.at AND h.application_name = r.app AND h.last_activity_at = r.old_activity
	AND h.reason = 'timeout'};
my $history_unmatched = count_of(qq{SELECT count(*) FROM recovery.history h
	WHERE NOT EXISTS (SELECT 1 FROM $rec r WHERE $match)});
my $recoveries_unrecorded = count_of(qq{SELECT count(*) FROM $rec r
	WHERE NOT EXISTS (SELECT 1 FROM recovery.history h WHERE $match)});
my $history_dups = count_of(q{SELECT count(*) FROM (SELECT run_table, run_id FROM recovery.history
	GROUP BY 1, 2 HAVING count(*) > 1) d});
my $recoveries = count_of("SELECT count(*) FROM $rec r");
is($history_unmatched, '0', 'every history row matches a real recovery');
is($recoveries_unrecorded, '0', 'every recovery has its history row');
is($history_dups, '0', 'no run recovered (or recorded) twice');
is(count_of('SELECT count(*) FROM recovery.history'), $recoveries, 'as many history rows as recoveries');
# And the rows as they are now: failed by recovery <=> one history row.
my $state_vs_history = count_of(q{
	WITH last AS (SELECT DISTINCT ON (tbl, run_id) tbl, run_id, app FROM soak.transitions
	              ORDER BY tbl, run_id, id DESC),
	     h AS (SELECT run_table, run_id FROM recovery.history)
	SELECT count(*) FROM last l
	WHERE (l.app NOT IN ('soak-app', 'soak-setup')) IS DISTINCT FROM EXISTS (
	        SELECT 1 FROM h WHERE h.run_id = l.run_id
	        AND h.run_table = CASE l.tbl WHEN 'A' THEN 'public.qualification_runs' ELSE 'public.app_jobs' END)});
is($state_vs_history, '0', 'a run was last changed by recovery exactly when it has a history row');
# The trigger log itself is complete: each row's values are its last logged ones.
is(count_of(q{
	WITH last AS (SELECT DISTINCT ON (tbl, run_id) * FROM soak.transitions ORDER BY tbl, run_id, id DESC)
	SELECT count(*) FROM last l
	LEFT JOIN qualification_runs q ON l.tbl = 'A' AND q.id = l.run_id
	LEFT JOIN app_jobs j ON l.tbl = 'B' AND j.job_id::text = l.run_id
	WHERE coalesce(q.status::text, j.state) IS DISTINCT FROM l.new_status
	   OR coalesce(q.completed, j.progress) IS DISTINCT FROM l.new_progress}), '0',
	'(the trigger log agrees with the tables)');

# Notifications: one per history row.
my @notes = parse_notifications($heard);
my %seen;
$seen{"$_->{json}{run_table} $_->{json}{run_id}"}++ for grep { $_->{json} } @notes;
my $notify_dups = grep { $_ > 1 } values %seen;
my $history_keys = count_of(q{SELECT string_agg(run_table || ' ' || run_id, E'\n') FROM recovery.history});
my %in_history = map { $_ => 1 } split /\n/, $history_keys;
my $notify_unknown = grep { !$in_history{$_} } keys %seen;
my $notify_missing = grep { !$seen{$_} } keys %in_history;
is(scalar(@notes), $recoveries, 'one NOTIFY recovery per recovered run');
is($notify_dups + $notify_unknown + $notify_missing, 0,
	"notifications name exactly the recovered runs ($notify_dups twice, $notify_unknown unknown, $notify_missing missing)");

# Dead runs: everything the app abandoned (and the crashed app's backlog) was recovered.
my $dead_not_recovered = count_of(q{
	SELECT count(*) FROM soak.app_runs a
	WHERE a.state = 'abandoned' AND NOT EXISTS (SELECT 1 FROM recovery.history h
	  WHERE h.run_id = CASE a.tbl WHEN 'A' THEN 'A' || a.n ELSE a.n::text END)});
is($dead_not_recovered, '0', 'every abandoned run was recovered');

# Errors: the server log of the soak, and lock waits of recovery's sessions.
my $log = substr(slurp_file($node->logfile), $log_offset);
my @errors = grep { /\b(ERROR|FATAL|PANIC|WARNING):|deadlock detected/ } split /\n/, $log;
is(scalar(@errors), 0, 'no ERROR, FATAL, PANIC, WARNING or deadlock in the server log')
  or diag(join("\n", @errors[ 0 .. ($#errors < 9 ? $#errors : 9) ]));
my @waits = $log =~ /^\S+ \S+ \S+ \[\d+\] (\S+(?: worker)?) LOG:\s+process \d+ (?:still waiting|acquired)/mg;
my $recovery_waits = grep { $_ ne 'soak-app' } @waits;
my $app_waits = grep { $_ eq 'soak-app' } @waits;
is($recovery_waits, 0, 'recovery never waited for a lock (skips locked runs)');

# --- figures ----------------------------------------------------------------

my $by = count_of(q{SELECT string_agg(application_name || ' ' || n, ', ' ORDER BY application_name)
	FROM (SELECT application_name, count(*) n FROM recovery.history GROUP BY 1) s});
my $states = count_of(q{SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)
	FROM (SELECT state, count(*) n FROM soak.app_runs WHERE client >= 0 GROUP BY 1) s});
my $lost_live = count_of(q{SELECT count(*) FROM soak.app_runs WHERE state = 'lost'});
my $worker = count_of(q{SELECT format('worker: state %s, total_recovered %s, last error %s', state,
	total_recovered, coalesce(last_error, 'none')) FROM recovery.worker_status()});
my $cycles = () = $log =~ /recovery worker: recovered/g;
diag(sprintf('soak figures: %d s of load, %d app runs + %d backlog runs, %d transitions logged',
		$soak_elapsed, $runs - 2 * $backlog, 2 * $backlog, count_of('SELECT count(*) FROM soak.transitions')));
diag("app runs by final state: $states");
diag("recoveries by caller: $by");
diag("live runs lost to recovery after idling past the timeout (legitimate, checked): $lost_live");
diag("$worker; productive worker cycles logged: $cycles");
diag("lock waits over 100 ms: app $app_waits, recovery $recovery_waits");
diag("wrong $wrong, app-finished changed $app_finished_changed, lost $lost, history unmatched "
	  . "$history_unmatched, unrecorded $recoveries_unrecorded, duplicates $history_dups, "
	  . "notifications " . scalar(@notes) . ", dead not recovered $dead_not_recovered, log errors "
	  . scalar(@errors));
my $wrong_total = $wrong + $app_finished_changed + $history_unmatched + $recoveries_unrecorded
  + $history_dups + $dead_not_recovered;
diag(sprintf('soak: %d s, %d app transactions, %d recoveries, %d lost, %d wrong',
		$seconds, $tx{'soak-app'}, $recoveries, $lost, $wrong_total));

$node->stop;
done_testing();
