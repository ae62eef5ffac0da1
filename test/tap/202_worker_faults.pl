# Faults under the background worker, between its cycles: watched tables
# dropped, renamed, moved, recreated, altered (a column dropped or renamed, the
# status column moved to an enum type without the failed label, a label
# renamed, a time column turned to text, the id column dropped), a table whose
# trigger refuses the update, a history row that cannot be written. For each:
# the worker says so in the server log naming the table, goes on recovering
# the other tables in the same cycles, does not crash or restart, changes
# nothing in the broken table, and picks the table up again once it is fixed.
# Then: a table locked by a long transaction (and dropped by it), and the
# extension dropped under the running worker (which stops) and created again
# (a worker is back).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use RecoveryTap;

my $node = worker_node('faults', conf => "log_statement = none\n");
watch_seed($node, 'postgres');    # qualification_runs: the healthy control table

sub sql { return $node->safe_psql('postgres', $_[0]) }

# Watched tables in the seed's shape (enum "RunStatus", camelCase).
my @tables = qw(f_drop f_rename f_move f_recreate f_col_drop f_col_rename f_enum
  f_label f_type f_id_drop f_trigger f_history);
my $shape = q{(id text PRIMARY KEY, status %s NOT NULL, "createdAt" timestamp(3) NOT NULL,
	"updatedAt" timestamp(3), "completedAt" timestamp(3))};
sql(q{CREATE TYPE "LabelStatus" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')});
for my $t (@tables)
{
	my $type = $t eq 'f_label' ? '"LabelStatus"' : '"RunStatus"';
	sql(sprintf("CREATE TABLE $t $shape; SELECT recovery.watch('$t');", $type));
}

# Adds one run stuck for two hours to each table given (qualified names work).
sub add_stuck
{
	my ($id, @in) = @_;
	# (f_id_drop loses its id column, f_col_rename calls status "state",
	# qualification_runs has an "icpId".)
	sql(join ";\n", map {
		my %has = map { $_ => 1 } split /\n/, sql(qq{SELECT attname FROM pg_attribute
			WHERE attrelid = '$_'::regclass AND attnum > 0 AND NOT attisdropped});
		my @cols = ($has{status} ? 'status' : 'state', '"createdAt"');
		my @values = ("'PROCESSING'", "(now() AT TIME ZONE 'UTC') - interval '2 hours'");
		if ($has{id}) { push @cols, 'id'; push @values, "'$id'" }
		if ($has{icpId}) { push @cols, '"icpId"'; push @values, "'icp1'" }
		"INSERT INTO $_ (" . join(', ', @cols) . ') VALUES (' . join(', ', @values) . ')'
	} @in);
	return;
}
sub status_of { my ($t, $id) = @_; return sql(qq{SELECT status FROM $t WHERE id = '$id'}) }
sub worker_pid { return sql('SELECT pid FROM recovery.worker_status()') }

# Cycle 1: everything healthy, everything recovered.
add_stuck('r1', 'qualification_runs', @tables);
wait_for($node, 'postgres',
	'SELECT bool_and(status = \'FAILED\') FROM (' . join(' UNION ALL ', map { "SELECT status::text FROM $_" } 'qualification_runs', @tables) . ') s',
	'cycle 1: the worker recovers a stuck run in each of the 13 tables');
my $pid = worker_pid();

# The faults, all at once, between two cycles.
my $offset = -s $node->logfile;
my $faulted_at = time;
sql(q{
	DROP TABLE f_drop;
	ALTER TABLE f_rename RENAME TO f_renamed;
	CREATE SCHEMA elsewhere;
	ALTER TABLE f_move SET SCHEMA elsewhere;
	DROP TABLE f_recreate;
	CREATE TABLE f_recreate (id text PRIMARY KEY, status "RunStatus" NOT NULL,
		"createdAt" timestamp(3) NOT NULL, "updatedAt" timestamp(3), "completedAt" timestamp(3));
	ALTER TABLE f_col_drop DROP COLUMN "completedAt";
	ALTER TABLE f_col_rename RENAME COLUMN status TO state;
	CREATE TYPE "RunStatus2" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'ERRORED');
	ALTER TABLE f_enum ALTER COLUMN status TYPE "RunStatus2"
		USING (CASE status WHEN 'FAILED' THEN 'ERRORED' ELSE status::text END)::"RunStatus2";
	ALTER TYPE "LabelStatus" RENAME VALUE 'FAILED' TO 'ERRORED';
	ALTER TABLE f_type ALTER COLUMN "createdAt" TYPE text;
	ALTER TABLE f_id_drop DROP COLUMN id;
	CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN RAISE EXCEPTION 'f_trigger refuses: run % is mine', OLD.id; END $$;
	CREATE TRIGGER refuse BEFORE UPDATE ON f_trigger FOR EACH ROW EXECUTE FUNCTION refuse();
	ALTER TABLE recovery.history ADD CONSTRAINT fault_no_f_history
		CHECK (run_table <> 'public.f_history') NOT VALID;
});
my %where = (f_rename => 'f_renamed', f_move => 'elsewhere.f_move');
my @alive = map { $where{$_} // $_ } grep { $_ ne 'f_drop' } @tables;
add_stuck('r2', 'qualification_runs', @alive);

wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'r2'},
	'the healthy table is still recovered');
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM f_renamed WHERE id = 'r2'},
	'a renamed table is still recovered (under its new name)');
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM elsewhere.f_move WHERE id = 'r2'},
	'a table moved to another schema is still recovered');
sleep 3;    # a few more cycles over the broken tables
my $later = sql('SELECT count(*) FROM recovery.history');
add_stuck('r3', 'qualification_runs');
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'r3'},
	'and again in later cycles');
is(worker_pid(), $pid, 'the worker neither crashed nor restarted');

# Nothing changed in the broken tables.
for my $t (qw(f_recreate f_col_drop f_enum f_label f_type f_trigger f_history))
{
	is(status_of($t, 'r2'), 'PROCESSING', "$t: its stuck run is left alone");
}
is(sql(q{SELECT state FROM f_col_rename WHERE id = 'r2'}), 'PROCESSING', 'f_col_rename: its stuck run is left alone');
is(sql(q{SELECT count(*) FROM f_id_drop WHERE status = 'PROCESSING'}), '1', 'f_id_drop: its stuck run is left alone');
is(sql(q{SELECT count(*) FROM recovery.history WHERE run_id = 'r2' AND run_table NOT IN
	('public.qualification_runs', 'public.f_renamed', 'elsewhere.f_move')}), '0',
	'no history row for a broken table');

# A message naming each broken table and what is wrong with it.
my %says = (
	f_drop       => qr/skipping watched table public\.f_drop: the table no longer exists/,
	f_recreate   => qr/skipping watched table public\.f_recreate: the table no longer exists/,
	f_col_drop   => qr/skipping watched table public\.f_col_drop: column "completedAt" of table public\.f_col_drop does not exist/,
	f_col_rename => qr/skipping watched table public\.f_col_rename: column "status" of table public\.f_col_rename does not exist/,
	f_enum       => qr/skipping watched table public\.f_enum: enum type (?:public\.)?"?RunStatus2"? of column "status" has no label "FAILED"/,
	f_label      => qr/skipping watched table public\.f_label: enum type (?:public\.)?"?LabelStatus"? of column "status" has no label "FAILED"/,
	f_type       => qr/skipping watched table public\.f_type: started column "createdAt" of table public\.f_type has type text/,
	f_id_drop    => qr/skipping watched table public\.f_id_drop: column "id" of table public\.f_id_drop does not exist/,
	f_trigger    => qr/f_trigger refuses: run r2 is mine.*\n(?:.*\n)*?.*recovery worker: recovering public\.f_trigger/,
	f_history    => qr/violates check constraint "fault_no_f_history".*\n(?:.*\n)*?.*recovery worker: recovering public\.f_history/);
my $log = substr(slurp_file($node->logfile), $offset);
for my $t (sort keys %says)
{
	like($log, $says{$t}, "$t: the log says what is wrong, naming the table");
}
like(sql('SELECT last_error FROM recovery.worker_status()'), qr/^recovering public\.f_(trigger|history): /,
	'worker_status().last_error names a table whose recovery failed');
# A crash: "server process (PID n) was terminated" on 15, "client backend
# (PID n) ..." on 18; any process's crash makes the postmaster terminate the others.
unlike($log, qr/\b(FATAL|PANIC)\b|(?:server process|client backend) .* terminated|terminating any other active server processes/,
	'no FATAL, PANIC or crash');
# How loud is it: each problem once, not once per cycle.
my $warnings = () = $log =~ /WARNING:  recovery: skipping watched table/g;
my $failures = () = $log =~ /LOG:  .*(?:f_trigger refuses|violates check constraint "fault_no_f_history")/g;
my $broken_for = int(time - $faulted_at + 0.5);
diag("broken tables for ~$broken_for s (naptime 1 s): $warnings skip WARNINGs, $failures failed recoveries logged");
cmp_ok($broken_for, '>=', 4, 'the tables stayed broken for several cycles');
is($warnings, 8, 'each of the 8 broken tables is reported once, not every cycle');
is($failures, 2, 'each of the 2 failing recoveries is logged once, not every cycle');

# Fixed, each table is recovered again; gone, it is forgotten.
$offset = -s $node->logfile;
sql(q{
	SELECT recovery.unwatch(oid) FROM (SELECT run_table::oid AS oid FROM recovery.watched_tables
		WHERE table_name IN ('public.f_drop', 'public.f_recreate')) s;
	SELECT recovery.watch('f_recreate');
	SELECT recovery.watch('f_col_drop');
	SELECT recovery.watch('f_col_rename', status_column => 'state');
	SELECT recovery.watch('f_enum', failed_status => 'ERRORED');
	SELECT recovery.watch('f_label', failed_status => 'ERRORED');
	DROP TRIGGER refuse ON f_trigger;
	ALTER TABLE recovery.history DROP CONSTRAINT fault_no_f_history;
	SELECT recovery.unwatch('f_type');
	SELECT recovery.unwatch('f_id_drop');
});
wait_for($node, 'postgres', q{SELECT (SELECT status FROM f_recreate WHERE id = 'r2') = 'FAILED'
	AND (SELECT status FROM f_col_drop WHERE id = 'r2') = 'FAILED'
	AND (SELECT state FROM f_col_rename WHERE id = 'r2') = 'FAILED'
	AND (SELECT status FROM f_enum WHERE id = 'r2') = 'ERRORED'
	AND (SELECT status FROM f_label WHERE id = 'r2') = 'ERRORED'
	AND (SELECT status FROM f_trigger WHERE id = 'r2') = 'FAILED'
	AND (SELECT status FROM f_history WHERE id = 'r2') = 'FAILED'},
	'once fixed, every table is recovered again (its stuck runs were kept, not half-done)');
is(sql(q{SELECT count(*) FROM recovery.history WHERE run_id = 'r2'}), scalar(@alive) - 2 + 1,
	'one history row per recovered run, none for the failed attempts');
$node->wait_for_log(qr/recovery worker: watched table public\.f_col_drop is usable again/, $offset);
$node->wait_for_log(qr/recovery worker: recovering public\.f_trigger: works again/, $offset);
$node->wait_for_log(qr/recovery worker: recovering public\.f_history: works again/, $offset);
pass('the log says once when a broken table is usable again and a failing recovery works again');
$offset = -s $node->logfile;
sleep 2;
unlike(substr(slurp_file($node->logfile), $offset), qr/WARNING|recovery worker: recovering/,
	'and the log is quiet again');

# A table locked by a long transaction (an ALTER TABLE waiting for its own
# locks, a pg_repack, a LOCK TABLE): the worker gives up on it after
# recovery.lock_timeout and goes on with the other tables, in every cycle.
# f_lock sorts before qualification_runs.
sql(q{CREATE TABLE f_lock (id text PRIMARY KEY, status "RunStatus" NOT NULL,
	"createdAt" timestamp(3) NOT NULL, "updatedAt" timestamp(3), "completedAt" timestamp(3));
	SELECT recovery.watch('f_lock')});
add_stuck('r4', 'f_lock');
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM f_lock WHERE id = 'r4'}, 'f_lock is recovered');
$offset = -s $node->logfile;
my $locker = $node->background_psql('postgres');
# (In one transaction, so the worker cannot recover it before the lock.)
$locker->query_safe(q{BEGIN; LOCK TABLE f_lock IN ACCESS EXCLUSIVE MODE;
	INSERT INTO f_lock (id, status, "createdAt") VALUES ('r5', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
add_stuck('r5', 'qualification_runs', 'elsewhere.f_move');
my $start = time;
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'r5'},
	'while one table is locked, the worker still recovers the others');
my $took = time - $start;
cmp_ok($took, '<', 8, sprintf('within a few cycles (%.1f s)', $took));
$node->wait_for_log(qr/lock timeout.*\n(?:.*\n)*?.*recovery worker: recovering public\.f_lock/, $offset);
pass('the log says which table it could not lock');
is($locker->query_safe(q{SELECT status FROM f_lock WHERE id = 'r5'}), 'PROCESSING', 'the locked table is left for later');
is(worker_pid(), $pid, 'the worker neither crashed nor restarted');

# The lock holder drops the table: the worker says so and goes on.
$offset = -s $node->logfile;
$locker->query_safe('DROP TABLE f_lock');
$locker->query_safe('COMMIT');
$locker->quit;
$node->wait_for_log(qr/skipping watched table public\.f_lock: the table no longer exists/, $offset);
pass('a table dropped by the transaction that held its lock: skipped, named');
add_stuck('r7', 'qualification_runs');
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'r7'},
	'and the others are still recovered');
sql(q{SELECT recovery.unwatch(run_table) FROM recovery.watched_tables WHERE table_name = 'public.f_lock'});

# The extension dropped under the running worker, then created again.
$offset = -s $node->logfile;
sql('DROP EXTENSION recovery');
add_stuck('r6', 'qualification_runs');
sleep 3;
is(status_of('qualification_runs', 'r6'), 'PROCESSING', 'without the extension the worker changes nothing');
is(sql(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'recovery worker'}), '0',
	'the worker has stopped');
like(substr(slurp_file($node->logfile), $offset),
	qr/recovery worker: the extension is gone from database "postgres": the worker stops/, 'saying why');
unlike(substr(slurp_file($node->logfile), $offset), qr/ERROR|FATAL|PANIC|terminated/,
	'and logging no error');
sql(q{CREATE EXTENSION recovery; SELECT recovery.watch('qualification_runs')});
wait_for($node, 'postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'r6'},
	'created again, the worker recovers at once');
wait_for($node, 'postgres', q{SELECT state IN ('idle', 'running') AND total_recovered >= 0 FROM recovery.worker_status()},
	'and reports through the new worker_status()');

$node->stop;
done_testing();
