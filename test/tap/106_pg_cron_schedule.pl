# recovery.schedule()/unschedule() manage one pg_cron job per database, and
# the job really recovers stuck runs.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

require_extension('pg_cron');

my $node = worker_node('cron', preload => 'pg_cron,recovery', conf => q{
recovery.enabled = off
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 20
});
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
watch_seed($node, 'postgres');
$node->safe_psql('postgres', 'CREATE DATABASE other');
watch_seed($node, 'other');

my $job = $node->safe_psql('postgres', q{SELECT recovery.schedule('* * * * *', '30 minutes')});
like($job, qr/^\d+$/, 'schedule returns the job id');
is($node->safe_psql('postgres', q{SELECT jobname || ' ' || schedule || ' ' || database FROM cron.job}),
	'recovery:postgres * * * * * postgres', 'one job named recovery:<database>');
like($node->safe_psql('postgres', q{SELECT command FROM cron.job}),
	qr/recovery\.recover_each_table\('00:30:00'::interval\)/, 'running recover_each_table with the timeout');
is($node->safe_psql('postgres', q{SELECT recovery.schedule('*/2 * * * *', '1 hour')}), $job,
	'calling again updates the same job');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || min(schedule) FROM cron.job}), '1 */2 * * * *',
	'still one job, with the new schedule');
my $other = $node->safe_psql('postgres', q{SELECT recovery.schedule('* * * * *', '30 minutes', 'other')});
is($node->safe_psql('postgres', qq{SELECT jobname || ' ' || database FROM cron.job WHERE jobid = $other}),
	'recovery:other other', 'another database gets its own job via schedule_in_database');

# The job recovers a stuck run (pg_cron fires on minute boundaries), even
# with another watched table whose trigger refuses every recovery (sorted
# first, so it fails before the good table is reached).
$node->safe_psql('postgres', q{
  CREATE TABLE a_refusing (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
  CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'not now'; END $$;
  CREATE TRIGGER refuse BEFORE UPDATE ON a_refusing FOR EACH ROW EXECUTE FUNCTION refuse();
  SELECT recovery.watch('a_refusing', active_statuses => '{running}', failed_status => 'failed');
  INSERT INTO a_refusing VALUES (1, 'running', now() - interval '2 hours')});
# And a hostile table: an ordinary role's trigger that records who runs it,
# tries to become superuser and to leave a search_path behind.
$node->safe_psql('postgres', q{
  CREATE ROLE mallory;
  CREATE SCHEMA mallory AUTHORIZATION mallory;
  SET ROLE mallory;
  CREATE TABLE mallory.seen (by_role name, superuser boolean, search_path text);
  CREATE FUNCTION mallory.on_update() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
      INSERT INTO mallory.seen SELECT current_user, r.rolsuper, current_setting('search_path')
      FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user;
      PERFORM pg_catalog.set_config('search_path', 'mallory, pg_catalog', false);
      BEGIN
          EXECUTE 'ALTER ROLE mallory SUPERUSER';
      EXCEPTION WHEN OTHERS THEN NULL;
      END;
      RETURN NEW;
  END $$;
  CREATE TABLE mallory.runs (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
  CREATE TRIGGER on_update BEFORE UPDATE ON mallory.runs FOR EACH ROW EXECUTE FUNCTION mallory.on_update();
  SELECT recovery.watch('mallory.runs', active_statuses => '{running}', failed_status => 'failed');
  INSERT INTO mallory.runs VALUES (1, 'running', now() - interval '2 hours');});
$node->safe_psql('postgres', q{SELECT recovery.schedule('* * * * *', '30 minutes')});
$node->safe_psql('postgres', q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('cron-run', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
$node->safe_psql('other', q{INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  VALUES ('other-run', 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours')});
my $deadline = time + 75;
my $done = 'f';
while (time < $deadline && $done ne 't') {
	sleep 2;
	$done = $node->safe_psql('postgres', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'cron-run'});
}
is($done, 't', 'the pg_cron job recovered the stuck run within 75 s');
wait_for($node, 'postgres', qq{SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $job AND status = 'succeeded'},
	'cron.job_run_details shows it succeeded');
wait_for($node, 'other', q{SELECT status = 'FAILED' FROM qualification_runs WHERE id = 'other-run'},
	'the job for the other database recovered there');
is($node->safe_psql('postgres', q{SELECT application_name FROM recovery.history WHERE run_id = 'cron-run'}),
	'pg_cron', 'history names pg_cron as the client');
is($node->safe_psql('postgres', q{SELECT status FROM a_refusing}), 'running',
	'the refusing table was rolled back alone');
like(slurp_file($node->logfile),
	qr/WARNING:  recovery: could not recover stuck runs of table public\.a_refusing: not now \(SQLSTATE P0001\)/,
	'and the server log names it');
is($node->safe_psql('postgres', q{SELECT status FROM mallory.runs}), 'failed', 'the job recovered mallory\'s table');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT by_role || ' superuser=' || superuser || ' ' || search_path, '; ') FROM mallory.seen}),
	'mallory superuser=false pg_catalog, pg_temp',
	'the job (a superuser) ran mallory\'s trigger as mallory, with search_path pinned');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'mallory is not superuser after the job');

is($node->safe_psql('postgres', q{SELECT recovery.unschedule()}), 't', 'unschedule removes the job');
is($node->safe_psql('postgres', q{SELECT recovery.unschedule()}), 'f', 'and says false when there is none');
is($node->safe_psql('postgres', q{SELECT recovery.unschedule('other')}), 't', 'for another database too');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job}), '0', 'no jobs left');

$node->stop;
done_testing();
