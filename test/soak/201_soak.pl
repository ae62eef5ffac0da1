# Concurrency soak: pgbench clients play the app (create runs, bump progress,
# complete or fail them, "die" on some), other pgbench clients call the SQL
# API in a tight loop, and the background worker cycles every second, all on
# the same tables for RECOVERY_SOAK_SECONDS (default 60). Meanwhile 6 app
# instances work on table A through a PgBouncer in transaction mode (2
# server backends): each incarnation has a 3 s lease, heartbeats every 0.5 s
# and claims its runs with its token; 2 live through the whole soak, the
# other 4 slots' incarnations die after 3-7 s each, in turn silently (lease
# lapses), restarted (instance_start of the same name) or stopped
# (instance_stop). Afterwards the invariants are checked from two
# independent records: the app's own record of what it wrote (soak.app_runs,
# same transaction as each write; soak.incarnations for the instances) and a
# trigger log of every change to a run with who made it (soak.transitions).
#
#   wrong      recovery changed a run it must not have: not active, not idle
#              past the timeout at that moment (a run claimed by an
#              instance: see alive), or a column other than status/finished,
#              or to anything but the failed status
#   lost       a run's progress or activity differs from the app's last write
#   history    every recovery has exactly one matching recovery.history row
#              (same run, statuses, time, caller, last activity, reason:
#              timeout, or the reason of the instance's end) and back
#   notify     one NOTIFY recovery per history row, none extra
#   dead       every run the app abandoned (and everything left active when
#              the app stopped) is recovered in the end
#   alive      no run of an incarnation alive to the end was recovered, even
#              idle past the recoverers' 3 s timeout (through the drain too);
#              no instance write ever found its run failed; no run of a
#              dying incarnation was recovered before its end (the
#              recovering write's clock vs the ending statement's start, or
#              the last true heartbeat + lease); every heartbeat before the
#              end said true, every token claim too
#   ended      every run an ended incarnation left active was recovered with
#              its reason: instance_gone, instance_restarted, instance_stopped
#              (each kind happens, with runs left active); afterwards each
#              ended incarnation's heartbeat says false
#   errors     no ERROR/FATAL/PANIC/WARNING in the server log, no deadlock,
#              no recoverer ever waited for a lock, no pgbench failure, no
#              instance statement failed
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
use List::Util qw(sum0);
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

# --- app instances through PgBouncer (transaction mode) ---------------------
#
# $instances slots, each a psql client of a PgBouncer in transaction mode
# with $pool_size server backends, driven from here without waiting for one
# another (one statement in flight per client). Each incarnation starts with
# a $lease s lease, heartbeats every $beat_every s, creates runs in table A
# and claims each with its token in the same transaction, bumps their
# progress (now and then leaving one idle past the recoverers' 3 s timeout)
# and completes or fails them, every write with its soak.app_runs record in
# the same statement (as the pgbench app does). The first $steady slots keep
# one incarnation for the whole soak; the others' incarnations die after 3-7
# s, in turn: silently (no more heartbeats, the client killed; the next
# incarnation is a new host, under a new name), restarted (instance_start of
# the same name from a new client) or stopped (instance_stop, then a new
# start of the same name). Each death marks the incarnation's runs still
# live 'abandoned' in soak.app_runs, with the death in soak.incarnations.
my $instances = 6;
my $steady = 2;
my $lease = 3;
my $beat_every = 0.5;
my $pool_size = 2;
my @fates = qw(gone restarted stopped);
-x $PGBOUNCER or BAIL_OUT("PgBouncer is not installed ($PGBOUNCER): apt-get install pgbouncer");
my $pooler = start_pgbouncer($node, 'transaction', pool_size => $pool_size);

my $phase = 'soak';    # soak: work and deaths; drain: heartbeats only; finish: complete the runs
my @slots;
my @inst_errors;                   # anything a client printed on stderr, or a malformed reply
my %server_pids;                   # the server backends that served the heartbeats
my %inst = (clients => 0, beats => 0, beats_not_true => 0, claims_not_true => 0,
	writes => 0, lost => 0, deaths => 0, max_latency => 0);
my $banner = '__soak_instance_done__';

# A psql client through the pooler, as application soak-inst.
sub inst_client
{
	my ($in, $out, $err) = ('', '', '');
	local $ENV{PGAPPNAME} = 'soak-inst';
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-h', $pooler->host, '-p', $pooler->port, '-d', 'postgres' ],
		'<', \$in, '>', \$out, '2>', \$err);
	$inst{clients}++;
	return { h => $h, in => \$in, out => \$out, err => \$err };
}

sub close_client
{
	my ($c, $crash) = @_;
	return unless $c;
	if ($crash) { $c->{h}->signal('KILL') }    # the host vanished
	else        { ${ $c->{in} } .= "\\q\n" }
	eval { $c->{h}->finish; 1 };
	return;
}

# Sends $sql on slot $s's client; $done gets psql's output once it is done.
sub send_sql
{
	my ($s, $sql, $done) = @_;
	my $c = $s->{c};
	${ $c->{in} } .= "$sql\n\\echo $banner\n";
	$c->{done} = $done;
	$c->{sent} = time;
	$c->{sql} = $sql;
	eval { $c->{h}->pump_nb; 1 } or push @inst_errors, "slot $s->{n}: $@";
	return;
}

sub poll_client
{
	my ($s) = @_;
	my $c = $s->{c};
	return unless $c && $c->{done};
	eval { $c->{h}->pump_nb; 1 } or push @inst_errors, "slot $s->{n}: $@";
	if (${ $c->{err} } ne '')
	{
		push @inst_errors, "slot $s->{n}: ${ $c->{err} } (in: $c->{sql})";
		${ $c->{err} } = '';
	}
	return unless ${ $c->{out} } =~ s/\A(.*?)^\Q$banner\E\n//ms;
	my $result = $1;
	chomp $result;
	my $latency = time - $c->{sent};
	$inst{max_latency} = $latency if $latency > $inst{max_latency};
	(delete $c->{done})->($result);
	return;
}

sub start_instances
{
	for my $n (0 .. $instances - 1)
	{
		push @slots, { n => $n, mortal => $n >= $steady, name => "inst-$n", hosts => 1,
			gens => 0, deaths => 0, next_start => time, next_work => 0 };
	}
	return;
}

# A new incarnation of the slot's name, ending $s->{restarting} if set (the
# label of the incarnation this start restarts).
sub start_incarnation
{
	my ($s) = @_;
	$s->{c} //= inst_client();
	my $label = sprintf('i%d.%d', $s->{n}, ++$s->{gens});
	my $old = delete $s->{restarting};
	my $sql = qq{WITH s AS (SELECT recovery.instance_start('$s->{name}', '$lease seconds') AS token)};
	$sql .= qq{, d AS (UPDATE soak.incarnations SET fate = 'restarted', died_at = now() WHERE label = '$old'),
		a AS (UPDATE soak.app_runs SET state = 'abandoned', changed_at = clock_timestamp()
		      WHERE incarnation = '$old' AND state = 'live')} if $old;
	$sql .= qq{ INSERT INTO soak.incarnations (label, name, slot, token, lease, started_at, last_beat)
		SELECT '$label', '$s->{name}', $s->{n}, token, '$lease seconds', now(), now() FROM s RETURNING token;};
	send_sql($s, $sql, sub {
		my ($token) = @_;
		close_client(delete $s->{old_c}) if $old;
		if ($token !~ /^[0-9a-f]{64}$/)
		{
			push @inst_errors, "slot $s->{n}: instance_start said '$token'";
			$s->{next_start} = time + 1;
			return;
		}
		$s->{inc} = { label => $label, token => $token, runs => {}, next_beat => time + $beat_every,
			dies_at => time + 3 + rand(4) };
	});
	return;
}

sub beat
{
	my ($s) = @_;
	my $inc = $s->{inc};
	$inc->{next_beat} = time + $beat_every;
	send_sql($s, qq{WITH h AS (SELECT recovery.instance_heartbeat('$inc->{token}') AS ok)
		UPDATE soak.incarnations i SET beats = beats + 1, false_beats = false_beats + CASE WHEN h.ok THEN 0 ELSE 1 END,
		       last_beat = CASE WHEN h.ok THEN now() ELSE last_beat END
		FROM h WHERE i.label = '$inc->{label}' RETURNING h.ok, pg_backend_pid();}, sub {
		my ($ok, $pid) = split /\|/, $_[0];
		$inst{beats}++;
		$inst{beats_not_true}++ unless ($ok // '') eq 't';
		$server_pids{$pid}++ if defined $pid;
	});
	return;
}

# The end of the slot's incarnation, by the next fate in its turn.
sub end_incarnation
{
	my ($s) = @_;
	my $inc = delete $s->{inc};
	my $fate = $fates[ ($s->{n} + $s->{deaths}++) % @fates ];
	$inst{deaths}++;
	my $abandon = qq{UPDATE soak.app_runs SET state = 'abandoned', changed_at = clock_timestamp()
		WHERE incarnation = '$inc->{label}' AND state = 'live'};
	if ($fate eq 'gone')
	{
		# Silence: the client is killed, the lease runs out. The next
		# incarnation is another host, under another name (a start of the
		# same name would end the lapsed incarnation: instance_restarted).
		close_client(delete $s->{c}, 1);
		$s->{c} = inst_client();
		$s->{name} = "inst-$s->{n}-h" . ++$s->{hosts};
		send_sql($s, qq{WITH d AS (UPDATE soak.incarnations SET fate = 'gone', died_at = last_beat + lease
			WHERE label = '$inc->{label}') $abandon;}, sub { $s->{next_start} = time + 0.2 + rand(0.8) });
	}
	elsif ($fate eq 'restarted')
	{
		# The app restarts: a new process starts the same name.
		$s->{old_c} = delete $s->{c};
		$s->{restarting} = $inc->{label};
		start_incarnation($s);
	}
	else
	{
		send_sql($s, qq{WITH s AS (SELECT recovery.instance_stop('$inc->{token}') AS n),
			d AS (UPDATE soak.incarnations SET fate = 'stopped', died_at = now(), stop_claims = (SELECT n FROM s)
			      WHERE label = '$inc->{label}'),
			a AS ($abandon)
			SELECT n FROM s;}, sub {
			close_client(delete $s->{c});
			$s->{next_start} = time + 0.2 + rand(0.8);
		});
	}
	return;
}

# When a run is touched next: mostly soon, sometimes past the recoverers' 3 s.
sub next_touch { return time + (rand() < 0.7 ? 0.2 + rand(1.3) : 3.5 + rand(3.5)) }

# A write to a run and its soak.app_runs record, as app_a.sql does; $done
# gets the run's state in soak.app_runs after it (lost: recovery had failed it).
sub write_run
{
	my ($s, $n, $finish, $done) = @_;
	my $sql;
	if (!$finish)
	{
		$sql = qq{WITH u AS (
			UPDATE qualification_runs SET completed = completed + 1, status = 'PROCESSING',
			       "updatedAt" = now() AT TIME ZONE 'UTC'
			WHERE id = 'A$n' AND status IN ('PENDING', 'PROCESSING')
			RETURNING completed, "updatedAt", status)
		UPDATE soak.app_runs a
		SET state = CASE WHEN u.status IS NULL THEN 'lost' ELSE 'live' END,
		    progress = coalesce(u.completed, a.progress),
		    activity = coalesce(u."updatedAt" AT TIME ZONE 'UTC', a.activity),
		    status = coalesce(u.status::text, a.status), changed_at = clock_timestamp()
		FROM (SELECT 1) AS one LEFT JOIN u ON true WHERE a.n = $n RETURNING a.state;};
	}
	else
	{
		$sql = qq{WITH u AS (
			UPDATE qualification_runs SET status = '$finish', "completedAt" = now() AT TIME ZONE 'UTC',
			       "updatedAt" = now() AT TIME ZONE 'UTC'
			WHERE id = 'A$n' AND status IN ('PENDING', 'PROCESSING')
			RETURNING "updatedAt", status, "completedAt")
		UPDATE soak.app_runs a
		SET state = CASE WHEN u.status IS NULL THEN 'lost' ELSE 'finished' END,
		    activity = coalesce(u."updatedAt" AT TIME ZONE 'UTC', a.activity),
		    status = coalesce(u.status::text, a.status),
		    finished = u."completedAt" AT TIME ZONE 'UTC', changed_at = clock_timestamp()
		FROM (SELECT 1) AS one LEFT JOIN u ON true WHERE a.n = $n RETURNING a.state;};
	}
	send_sql($s, $sql, sub {
		my ($state) = @_;
		$inst{writes}++ if $state eq 'live' || $state eq 'finished';
		$inst{lost}++ if $state eq 'lost';
		push @inst_errors, "slot $s->{n}: a write to run A$n said '$state'" if $state !~ /^(live|finished|lost)$/;
		$done->($state);
	});
	return;
}

# A new run, claimed with the token in the same transaction.
sub create_run
{
	my ($s) = @_;
	my $inc = $s->{inc};
	my $client = 100 + $s->{n};
	send_sql($s, qq{BEGIN;
		WITH r AS (
		  INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt")
		  VALUES ('A' || nextval('soak.run_seq'), 'icp1', 'PENDING', 1000, 0, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
		  RETURNING id, completed, "updatedAt", status)
		INSERT INTO soak.app_runs (n, tbl, client, state, progress, activity, status, changed_at, incarnation)
		SELECT substr(id, 2)::bigint, 'A', $client, 'live', completed, "updatedAt" AT TIME ZONE 'UTC', status::text,
		       clock_timestamp(), '$inc->{label}' FROM r;
		UPDATE soak.app_runs SET claimed = recovery.claim('qualification_runs', 'A' || n, '$inc->{token}')
		WHERE n = currval('soak.run_seq') RETURNING n, claimed;
		COMMIT;}, sub {
		my ($n, $claimed) = split /\|/, $_[0];
		if (!defined $claimed || $n !~ /^\d+$/)
		{
			push @inst_errors, "slot $s->{n}: creating a run said '$_[0]'";
			return;
		}
		$inst{writes}++;
		if ($claimed ne 't') { $inst{claims_not_true}++; return }
		$inc->{runs}{$n} = next_touch();
	});
	return;
}

sub work
{
	my ($s) = @_;
	my $inc = $s->{inc};
	my $now = time;
	$s->{next_work} = $now + 0.15 + rand(0.35);
	my $live = keys %{ $inc->{runs} };
	return create_run($s) if $live < 2 || ($live < 5 && rand() < 0.15);
	my @due = grep { $inc->{runs}{$_} <= $now } sort keys %{ $inc->{runs} };
	return unless @due;
	my $n = $due[ int rand @due ];
	my $finish = rand() < 0.8 ? undef : rand() < 0.85 ? 'COMPLETED' : 'FAILED';
	write_run($s, $n, $finish, sub {
		if ($_[0] eq 'live') { $inc->{runs}{$n} = next_touch() }
		else                 { delete $inc->{runs}{$n} }
	});
	return;
}

# One round: every idle client gets its next statement (a heartbeat first).
sub drive_instances
{
	my $now = time;
	for my $s (@slots)
	{
		poll_client($s);
		next if $s->{c} && $s->{c}{done};    # a statement in flight
		my $inc = $s->{inc};
		if (!$inc)
		{
			start_incarnation($s) if $phase eq 'soak' && $now >= $s->{next_start};
			next;
		}
		if ($now >= $inc->{next_beat}) { beat($s); next }
		if ($phase eq 'soak')
		{
			if ($s->{mortal} && $now >= $inc->{dies_at}) { end_incarnation($s) }
			elsif ($now >= $s->{next_work})              { work($s) }
		}
		elsif ($phase eq 'finish' && (my ($n) = sort keys %{ $inc->{runs} }))
		{
			write_run($s, $n, 'COMPLETED', sub { delete $inc->{runs}{$n} });
		}
	}
	return;
}

# Drives the instances (and any pgbench) for $seconds.
sub drive_for
{
	my ($seconds) = @_;
	my $end = time + $seconds;
	while (time < $end)
	{
		drive_instances();
		usleep(20_000);
	}
	return;
}

my $log_offset = -s $node->logfile;
my $started = time;
start_instances();
my @benches = (
	start_pgbench('soak-app', $app_clients, "$bench/app_a.sql\@1", "$bench/app_b.sql\@1"),
	start_pgbench('soak-rec', $recoverers, "$bench/recover.sql"));
# While they run, the instances go on and the listener is drained now and
# then (psql prints the notifications it got when it runs a command).
my $next_listen = 0;
while (my @running = grep { $_->{h}->pumpable } @benches)
{
	$_->{h}->pump_nb for @running;
	drive_instances();
	if (time >= $next_listen)
	{
		$heard .= $listener->query('SELECT 1') . "\n";
		$next_listen = time + 0.5;
	}
	usleep(20_000);
}
$phase = 'drain';    # from now on the instances only heartbeat
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

# Drain: the app has stopped, so every run still active is dead now (but
# the runs of the instances still alive, which go on heartbeating and leave
# their runs idle). The recoverers' timeout (3 s) and the worker's (5 s
# real) pass; then nothing else may be left active.
my $alive_runs = q{(SELECT run_id FROM soak.instance_runs WHERE fate IS NULL)};
my $active = qq{SELECT (SELECT count(*) FROM qualification_runs WHERE status IN ('PENDING', 'PROCESSING')
                        AND id NOT IN $alive_runs)
  + (SELECT count(*) FROM app_jobs WHERE state IN ('queued', 'running'))};
my $left_at_stop = $node->safe_psql('postgres', $active);
my $drain_start = time;
for (1 .. 60)
{
	drive_for(1);
	$node->safe_psql('postgres', q{SET application_name = 'soak-drain';
		SELECT count(*) FROM recovery.recover_stuck_runs('3 seconds', NULL, 'qualification_runs')});
	last if time - $drain_start >= 4 && $node->safe_psql('postgres', $active) eq '0';
}
is($node->safe_psql('postgres', $active), '0',
	"every run left active is recovered after the app stops ($left_at_stop left, drained in "
	  . int(time - $drain_start + 0.5) . ' s)');
# The live instances' runs, idle through the drain: still theirs.
my ($held, $held_active, $held_idle) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*), count(*) FILTER (WHERE q.status IN ('PENDING', 'PROCESSING')),
	       count(*) FILTER (WHERE q."updatedAt" < (now() AT TIME ZONE 'UTC') - interval '3 seconds')
	FROM soak.instance_runs r JOIN qualification_runs q ON q.id = r.run_id
	WHERE r.fate IS NULL AND r.state = 'live'});
is($held_active, $held,
	"the $held runs the live instances held through the drain ($held_idle idle past the 3 s timeout) are still active");
# The live instances complete them, then their clients leave.
$phase = 'finish';
for (1 .. 500)
{
	drive_instances();
	last unless grep { ($_->{c} && $_->{c}{done}) || ($_->{inc} && %{ $_->{inc}{runs} }) } @slots;
	usleep(20_000);
}
close_client(delete $_->{c}) for @slots;

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

# Recovery's changes: the trigger log rows not written by the app, its
# instances or the set-up. An instance's run (soak.instance_runs) is
# recovered when its incarnation ends, whatever its idleness (checked below);
# any other run only past the timeout.
my $rec = q{(SELECT * FROM soak.transitions WHERE app NOT IN ('soak-app', 'soak-inst', 'soak-setup'))};
my $tmo = qq{(CASE tbl WHEN 'A' THEN interval '$timeout{A}' ELSE interval '$timeout{B}' END)};
my $wrong_sql = qq{SELECT count(*) FROM $rec r WHERE NOT (
	op = 'UPDATE'
	AND old_status = ANY (CASE tbl WHEN 'A' THEN '{PENDING,PROCESSING}'::text[] ELSE '{queued,running}' END)
	AND new_status = CASE tbl WHEN 'A' THEN 'FAILED' ELSE 'dead' END
	AND NOT others_changed
	AND old_progress = new_progress AND old_activity = new_activity
	AND (r.tbl = 'A' AND r.run_id IN (SELECT run_id FROM soak.instance_runs) OR old_activity < at - $tmo)
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
	             AND t.app NOT IN ('soak-app', 'soak-inst', 'soak-setup')))});
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

# History: recovery's transitions and recovery.history match one to one
# (reason timeout, or for an instance's run the one its end gives).
my $match = qq{h.run_table = CASE r.tbl WHEN 'A' THEN 'public.qualification_runs' ELSE 'public.app_jobs' END
	AND h.run_id = r.run_id AND h.previous_status = r.old_status AND h.new_status = r.new_status
	AND h.recovered_at = r.at AND h.application_name = r.app AND h.last_activity_at = r.old_activity
	AND h.reason = coalesce((SELECT ir.reason FROM soak.instance_runs ir WHERE r.tbl = 'A' AND ir.run_id = r.run_id),
	                        'timeout')};
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
	WHERE (l.app NOT IN ('soak-app', 'soak-inst', 'soak-setup')) IS DISTINCT FROM EXISTS (
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

# App instances: the driver's own record (soak.incarnations, soak.app_runs)
# against the trigger log and recovery.history.
is(join("\n", @inst_errors[ 0 .. ($#inst_errors < 9 ? $#inst_errors : 9) ]), '',
	'no instance statement through PgBouncer failed (' . scalar(@inst_errors) . ' errors)');
my ($incarnations, $beats, $false_beats) = split /\|/,
  count_of(q{SELECT count(*), sum(beats), sum(false_beats) FROM soak.incarnations});
ok($beats > 0 && $beats == $inst{beats} && $false_beats == 0 && $inst{beats_not_true} == 0,
	"every heartbeat of an incarnation before its end said true ($beats heartbeats of $incarnations incarnations, "
	  . "$false_beats false)");
my $inst_runs = count_of(q{SELECT count(*) FROM soak.instance_runs});
is(count_of(q{SELECT count(*) FROM soak.instance_runs WHERE claimed IS NOT TRUE}) + $inst{claims_not_true}, 0,
	"every claim with a token through PgBouncer said true ($inst_runs runs)");
is(count_of(q{SELECT count(*) FROM soak.transitions WHERE app = 'soak-inst'}), $inst{writes},
	"(the trigger log holds every instance write: $inst{writes})");
my $pids = keys %server_pids;
ok($pids >= 1 && $pids <= $pool_size && $inst{clients} > $pool_size,
	"the instances' $inst{clients} client connections shared $pids server backends (transaction pooling, pool of $pool_size)");

# Nothing alive recovered: no run of an incarnation alive to the end was
# changed by recovery or recorded in its history; and no instance ever found
# a run taken from it while it lived (a write guarded by the status: lost).
my ($alive_incs, $alive_runs_n) = split /\|/, count_of(q{SELECT count(DISTINCT label), count(*)
	FROM soak.instance_runs WHERE fate IS NULL});
my $alive_touched = count_of(qq{SELECT count(*) FROM $rec r JOIN soak.instance_runs ir
	ON r.tbl = 'A' AND ir.run_id = r.run_id WHERE ir.fate IS NULL})
  + count_of(q{SELECT count(*) FROM recovery.history h JOIN soak.instance_runs ir
	ON h.run_table = 'public.qualification_runs' AND h.run_id = ir.run_id WHERE ir.fate IS NULL});
is($alive_touched, 0, "no run of the $alive_incs incarnations alive to the end was recovered ($alive_runs_n runs)");
my $inst_lost = count_of(q{SELECT count(*) FROM soak.instance_runs WHERE state = 'lost'});
is($inst_lost + $inst{lost}, 0, "no instance found one of its runs failed while it lived ($inst_lost lost)");
# The claims were put to the test: runs left idle past the recoverers' 3 s
# timeout while their incarnation lived, then written by it again.
my $idle_spared = count_of(q{SELECT count(DISTINCT run_id) FROM (
	SELECT run_id, at - lag(at) OVER (PARTITION BY run_id ORDER BY id) AS gap
	FROM soak.transitions WHERE tbl = 'A' AND app = 'soak-inst') g WHERE gap > interval '3 seconds'});
cmp_ok($idle_spared + $held_idle, '>', 0,
	"runs idle past the 3 s timeout while their incarnation lived were spared ($idle_spared in the load, $held_idle in the drain)");
# A dying incarnation's runs: recovered only after its end (the write's own
# clock: after the ending statement started, or after last heartbeat + lease).
my $early_rows = qq{FROM $rec r JOIN soak.instance_runs ir ON r.tbl = 'A' AND ir.run_id = r.run_id
	WHERE ir.fate IS NULL OR r.clock <= ir.died_at};
my $early = count_of("SELECT count(*) $early_rows");
is($early, 0, 'no run of an incarnation was recovered before its end')
  or diag(count_of(qq{SELECT string_agg(format('%s of %s (%s, died %s): recovered %s by %s, reason %s', r.run_id,
	ir.label, coalesce(ir.fate, 'alive'), ir.died_at, r.clock, r.app, (SELECT h.reason FROM recovery.history h
	WHERE h.run_table = 'public.qualification_runs' AND h.run_id = r.run_id LIMIT 1)), E'\n') $early_rows}));

# Everything dead recovered: every run left active by an incarnation that
# ended, by its fate, is failed with the reason of that fate.
my %by_fate;
for my $row (split /\n/, count_of(q{
	SELECT r.fate, count(DISTINCT r.label), count(*),
	       count(*) FILTER (WHERE q.status = 'FAILED' AND h.reason = r.reason),
	       (SELECT count(*) FROM soak.incarnations i WHERE i.fate = r.fate)
	FROM soak.instance_runs r JOIN qualification_runs q ON q.id = r.run_id
	LEFT JOIN recovery.history h ON h.run_table = 'public.qualification_runs' AND h.run_id = r.run_id
	WHERE r.fate IS NOT NULL AND r.state = 'abandoned' GROUP BY r.fate}))
{
	my ($fate, $incs, $left, $right, $all) = split /\|/, $row;
	$by_fate{$fate} = { incs => $incs, left => $left, right => $right, all => $all };
}
my %reason_of = (gone => 'instance_gone', restarted => 'instance_restarted', stopped => 'instance_stopped');
my %how = (gone => 'went silent', restarted => 'were restarted', stopped => 'were stopped');
for my $fate (@fates)
{
	my $f = $by_fate{$fate} // { incs => 0, left => 0, right => 0, all => 0 };
	cmp_ok($f->{left}, '>', 0, "incarnations $how{$fate} with runs left active ($f->{incs} of $f->{all})");
	is($f->{right}, $f->{left}, "all $f->{left} runs they left active were recovered, reason $reason_of{$fate}");
}
# The fence: an ended incarnation's heartbeat says false, through the pooler too.
$node->poll_query_until('postgres',
	q{SELECT coalesce(max(died_at), now()) + interval '100 ms' < now() FROM soak.incarnations});
is($pooler->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE NOT recovery.instance_heartbeat(token))
	|| '/' || count(*) FROM soak.incarnations WHERE fate IS NOT NULL}),
	"$inst{deaths}/$inst{deaths}", "the heartbeat of each of the $inst{deaths} ended incarnations says false");

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
	FROM (SELECT state, count(*) n FROM soak.app_runs WHERE client BETWEEN 0 AND 99 GROUP BY 1) s});
my $lost_live = count_of(q{SELECT count(*) FROM soak.app_runs WHERE state = 'lost'});
my $inst_fig = count_of(q{SELECT string_agg(coalesce(fate, 'alive') || ' ' || n, ', ' ORDER BY fate NULLS FIRST)
	FROM (SELECT fate, count(*) n FROM soak.incarnations GROUP BY 1) s});
my $inst_states = count_of(q{SELECT string_agg(state || ' ' || n, ', ' ORDER BY state)
	FROM (SELECT state, count(*) n FROM soak.instance_runs GROUP BY 1) s});
my $reasons = count_of(q{SELECT string_agg(reason || ' ' || n, ', ' ORDER BY reason)
	FROM (SELECT reason, count(*) n FROM recovery.history GROUP BY 1) s});
my $after_end = count_of(qq{SELECT string_agg(format('%s %s-%s ms', fate, lo, hi), ', ' ORDER BY fate) FROM (
	SELECT ir.fate, round(extract(epoch FROM min(r.clock - ir.died_at)) * 1000) lo,
	       round(extract(epoch FROM max(r.clock - ir.died_at)) * 1000) hi
	FROM $rec r JOIN soak.instance_runs ir ON r.tbl = 'A' AND ir.run_id = r.run_id GROUP BY 1) s});
my $worker = count_of(q{SELECT format('worker: state %s, total_recovered %s, last error %s', state,
	total_recovered, coalesce(last_error, 'none')) FROM recovery.worker_status()});
my $cycles = () = $log =~ /recovery worker: recovered/g;
diag(sprintf('soak figures: %d s of load, %d app runs + %d backlog runs, %d transitions logged',
		$soak_elapsed, $runs - 2 * $backlog, 2 * $backlog, count_of('SELECT count(*) FROM soak.transitions')));
diag("app runs by final state: $states");
diag("recoveries by caller: $by");
diag("live runs lost to recovery after idling past the timeout (legitimate, checked): $lost_live");
diag("$worker; productive worker cycles logged: $cycles");
diag(sprintf('instances: %d slots (%d for the whole soak) through PgBouncer (transaction mode, %d server backends), '
	  . 'lease %d s, heartbeat every %.1f s; %d incarnations: %s; %d heartbeats, slowest instance statement %.3f s',
	$instances, $steady, $pids, $lease, $beat_every, $incarnations, $inst_fig, $beats, $inst{max_latency}));
diag("instance runs by final state: $inst_states");
diag("recoveries by reason: $reasons");
diag("instance runs recovered after their incarnation's end (gone: after last heartbeat + lease): $after_end");
diag("lock waits over 100 ms: app $app_waits, recovery $recovery_waits");
diag("wrong $wrong, app-finished changed $app_finished_changed, lost $lost, history unmatched "
	  . "$history_unmatched, unrecorded $recoveries_unrecorded, duplicates $history_dups, "
	  . "notifications " . scalar(@notes) . ", dead not recovered $dead_not_recovered, log errors "
	  . scalar(@errors));
my $wrong_total = $wrong + $app_finished_changed + $history_unmatched + $recoveries_unrecorded
  + $history_dups + $dead_not_recovered;
diag(sprintf('soak: %d s, %d app transactions, %d recoveries, %d lost, %d wrong; %d instance incarnations '
	  . '(%d ended), %d alive recovered, %d of %d runs left by ended ones recovered with their reason',
		$seconds, $tx{'soak-app'}, $recoveries, $lost, $wrong_total, $incarnations, $inst{deaths},
		$alive_touched + $early, (map { my $f = $_; sum0(map { $by_fate{$_}{$f} // 0 } @fates) } qw(right left))));

$node->stop;
done_testing();
