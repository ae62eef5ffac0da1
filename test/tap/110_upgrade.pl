# ALTER EXTENSION recovery UPDATE: an install of 0.1.0 upgraded to the
# current version has exactly the objects, columns, policies and function
# definitions of a fresh install, and keeps its registrations and history.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecoveryTap;

my $node = app_node('upgrade');
my $current = $node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'recovery'});

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('fresh', 'CREATE EXTENSION recovery');
# The library is already the new one: 0.1.0's rows are written as its
# functions wrote them.
$node->safe_psql('upgraded', q{
CREATE EXTENSION recovery VERSION '0.1.0';
CREATE TABLE runs (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO runs VALUES (1, 'failed', now() - interval '2 hours');
INSERT INTO recovery.watched_tables (run_table, table_name, status_column, started_column, id_column,
                                     active_statuses, failed_status)
  VALUES ('runs', 'public.runs', 'status', 'created_at', 'id', '{running}', 'failed');
INSERT INTO recovery.history (run_table, run_id, previous_status, new_status, stuck_minutes, reason,
                              action, recovered_by)
  VALUES ('public.runs', '1', 'running', 'failed', 120, 'timeout', 'fail', current_user);
ALTER EXTENSION recovery UPDATE;});
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'recovery'}), $current,
	"0.1.0 updates to $current");

# Everything that makes up the extension, as text, comparable across databases.
my $describe = q{
SELECT kind || ': ' || what FROM (
  SELECT 'member' AS kind, pg_describe_object(classid, objid, objsubid) AS what
  FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'recovery')
  UNION ALL
  SELECT 'column', c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
         || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') || ' #' || a.attnum
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE c.relnamespace = 'recovery'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'function', p.oid::regprocedure::text || ' ' || md5(pg_get_functiondef(p.oid))
  FROM pg_proc p WHERE p.pronamespace = 'recovery'::regnamespace
  UNION ALL
  SELECT 'policy', tablename || '.' || policyname || ' ' || cmd || ' ' || array_to_string(roles, ',') || ' ' || qual
  FROM pg_policies WHERE schemaname = 'recovery'
  UNION ALL
  SELECT 'rls', relname || ' ' || relrowsecurity FROM pg_class WHERE relnamespace = 'recovery'::regnamespace AND relkind = 'r'
  UNION ALL
  SELECT 'acl', relname || ' ' || coalesce(relacl::text, '') FROM pg_class WHERE relnamespace = 'recovery'::regnamespace
  UNION ALL
  SELECT 'event trigger', evtname || ' ' || evtevent || ' ' || evtfoid::regproc FROM pg_event_trigger
  UNION ALL
  SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'recovery'
) AS everything ORDER BY 1};
my $fresh = $node->safe_psql('fresh', $describe);
my $upgraded = $node->safe_psql('upgraded', $describe);
ok(length($fresh) > 1000, 'the description covers the extension');
is($upgraded, $fresh, 'the upgraded install is the same as a fresh one');

is($node->safe_psql('upgraded', q{SELECT count(*) FROM recovery.watched_tables}), '1', 'registrations are kept');
is($node->safe_psql('upgraded', q{SELECT run_id || ' ' || (run_table_oid = 'runs'::regclass) FROM recovery.history}), '1 true',
	'history is kept, with the table it belongs to');
is($node->safe_psql('upgraded', q{SELECT recovery.undo((SELECT max(id) FROM recovery.history))}), 't',
	'a recovery recorded before the update can be undone after it');
is($node->safe_psql('upgraded', q{SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')}), '1',
	'and recovery works after the update');

$node->stop;
done_testing();
