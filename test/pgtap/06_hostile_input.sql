-- Hostile and malformed input, table-driven: every row of pg_temp.hostile is
-- one call with the SQLSTATE it must raise ('ok' when it must succeed, then
-- optionally with its documented result as text). Each call runs in its own
-- subtransaction that is rolled back afterwards, so the calls are independent;
-- before the rollback the run rows of every table in schema hi and the
-- history count are fingerprinted, and must be unchanged unless the row says
-- the call recovers runs (changes_data). Add a row to add a case.
--
-- Partitioned tables must work: besides the rows in the table, a section at
-- the end watches a partitioned table and recovers runs through the parent.
BEGIN;

SET LOCAL client_min_messages = warning;
CREATE SCHEMA hi;

-- The watched tables: text statuses, and a Prisma-like enum table.
CREATE TABLE hi.runs (
    id          integer PRIMARY KEY,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz,
    finished_at timestamptz
);
INSERT INTO hi.runs VALUES
    (1, 'processing', now() - interval '2 hours', NULL, NULL),
    (2, 'pending',    now() - interval '45 minutes', NULL, NULL),
    (3, 'processing', now() - interval '3 hours', now(), NULL),   -- active right now
    (4, 'processing', now(), NULL, NULL),                          -- started right now
    (5, 'completed',  now() - interval '9 hours', NULL, NULL);
CREATE TYPE hi.state AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED');
CREATE TABLE hi.enum_runs (
    id            text PRIMARY KEY,
    status        hi.state NOT NULL,
    "createdAt"   timestamp(3) NOT NULL,
    "updatedAt"   timestamp(3),
    "completedAt" timestamp(3)
);
INSERT INTO hi.enum_runs VALUES
    ('e1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours', NULL, NULL),
    ('e2', 'COMPLETED',  (now() AT TIME ZONE 'UTC') - interval '2 hours', NULL, NULL);
SELECT recovery.watch('hi.runs', active_statuses => '{pending,processing}', failed_status => 'failed'),
       recovery.watch('hi.enum_runs') \gset

-- Not watched, or not watchable.
CREATE TABLE hi.unwatched (id integer PRIMARY KEY, status text, created_at timestamptz);
INSERT INTO hi.unwatched VALUES (1, 'processing', now() - interval '2 hours');
CREATE VIEW hi.v AS SELECT * FROM hi.runs;
CREATE MATERIALIZED VIEW hi.mv AS SELECT * FROM hi.runs;
CREATE SEQUENCE hi.seq;
CREATE TYPE hi.comp AS (id integer, status text, created_at timestamptz);
CREATE TEMP TABLE temp_runs (id integer PRIMARY KEY, status text, created_at timestamptz);
-- Foreign tables, when file_fdw / postgres_fdw are installed (contrib); their
-- cases are skipped otherwise (see the diag lines).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'file_fdw') THEN
        CREATE EXTENSION IF NOT EXISTS file_fdw SCHEMA hi;
        CREATE SERVER pgtap06_files FOREIGN DATA WRAPPER file_fdw;
        CREATE FOREIGN TABLE hi.ft_file (id integer, status text, created_at timestamptz)
            SERVER pgtap06_files OPTIONS (filename '/dev/null', format 'csv');
    END IF;
    IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'postgres_fdw') THEN
        CREATE EXTENSION IF NOT EXISTS postgres_fdw SCHEMA hi;
        CREATE SERVER pgtap06_remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'nowhere');
        CREATE FOREIGN TABLE hi.ft_remote (id integer, status text, created_at timestamptz) SERVER pgtap06_remote;
    END IF;
END
$$;
CREATE TABLE hi.no_pk (status text, created_at timestamptz);
CREATE TABLE hi.two_pk (a int, b int, status text, created_at timestamptz, PRIMARY KEY (a, b));
CREATE TABLE hi.partial_unique (id int, code int PRIMARY KEY, status text, created_at timestamptz);
CREATE UNIQUE INDEX ON hi.partial_unique (id) WHERE id > 0;

-- Wrong column types.
CREATE TABLE hi.int_status  (id int PRIMARY KEY, status integer, created_at timestamptz);
CREATE TABLE hi.char_status (id int PRIMARY KEY, status char(10), created_at timestamptz);
CREATE TABLE hi.json_status (id int PRIMARY KEY, status jsonb, created_at timestamptz);
CREATE TABLE hi.date_start  (id int PRIMARY KEY, status text, created_at date);
CREATE TABLE hi.time_start  (id int PRIMARY KEY, status text, created_at time);
CREATE TABLE hi.text_start  (id int PRIMARY KEY, status text, created_at text);
CREATE TABLE hi.epoch_start (id int PRIMARY KEY, status text, created_at bigint);

-- Accepted, but the database refuses the failed status at recovery time.
CREATE DOMAIN hi.status_domain AS text CHECK (VALUE IN ('pending', 'processing', 'done'));
CREATE TABLE hi.domain_status (id int PRIMARY KEY, status hi.status_domain, created_at timestamptz);
INSERT INTO hi.domain_status VALUES (1, 'processing', now() - interval '2 hours');
CREATE TABLE hi.check_status (id int PRIMARY KEY, status text CHECK (status <> 'failed'), created_at timestamptz);
INSERT INTO hi.check_status VALUES (1, 'processing', now() - interval '2 hours');
CREATE TABLE hi.short_status (id int PRIMARY KEY, status varchar(4), created_at timestamptz);
INSERT INTO hi.short_status VALUES (1, 'busy', now() - interval '2 hours');
CREATE TABLE hi.generated_finished (
    id int PRIMARY KEY, status text, created_at timestamptz,
    finished_at timestamptz GENERATED ALWAYS AS (CASE WHEN status = 'done' THEN created_at END) STORED);
INSERT INTO hi.generated_finished (id, status, created_at) VALUES (1, 'processing', now() - interval '2 hours');
CREATE TABLE hi.generated_status (
    id int PRIMARY KEY, created_at timestamptz, finished_at timestamptz,
    status text GENERATED ALWAYS AS (CASE WHEN finished_at IS NULL THEN 'processing' ELSE 'done' END) STORED);
INSERT INTO hi.generated_status (id, created_at) VALUES (1, now() - interval '2 hours');

-- Odd identifiers: quotes, spaces, unicode, keywords and SQL fragments.
CREATE TABLE hi."Runs; DROP TABLE hi.runs; --" (
    "the id"                     integer PRIMARY KEY,
    "St""atus"                   text NOT NULL,
    "created_at"                 timestamptz NOT NULL
);
INSERT INTO hi."Runs; DROP TABLE hi.runs; --" VALUES (1, 'processing', now() - interval '2 hours');
CREATE TABLE hi."ラン 実行" (
    "識別子" integer PRIMARY KEY,
    "状態"   text NOT NULL,
    "作成日時" timestamptz NOT NULL,
    "完了日時" timestamptz
);
INSERT INTO hi."ラン 実行" VALUES (1, '処理中', now() - interval '2 hours', NULL), (2, '完了', now() - interval '2 hours', NULL);
CREATE TABLE hi."select" (
    "from"  integer PRIMARY KEY,
    "where" text NOT NULL,
    "order" timestamptz NOT NULL,
    "$1"    timestamptz,
    "t.status" text
);
INSERT INTO hi."select" VALUES (1, 'running', now() - interval '2 hours', NULL, NULL);
CREATE TABLE hi."status) OR (true" (
    id integer PRIMARY KEY,
    "status) OR (true" text NOT NULL,
    "created_at'); DELETE FROM hi.runs; --" timestamptz NOT NULL
);
INSERT INTO hi."status) OR (true" VALUES (1, 'running', now() - interval '2 hours'), (2, 'done', now() - interval '2 hours');
-- Statuses that are hard to put in an array literal.
CREATE TABLE hi.weird_status (id int PRIMARY KEY, status text, created_at timestamptz);
INSERT INTO hi.weird_status VALUES
    (1, 'in "progress"', now() - interval '2 hours'), (2, 'a,b', now() - interval '2 hours'),
    (3, '{x}', now() - interval '2 hours'), (4, 'back\slash', now() - interval '2 hours'),
    (5, 'NULL', now() - interval '2 hours'), (6, ' ', now() - interval '2 hours'),
    (7, 'processing', now() - interval '2 hours');
CREATE TYPE hi.weird_enum AS ENUM ('in "progress"', 'a,b', '{x}', 'back\slash', 'NULL', 'x''); DROP TABLE hi.runs; --');
CREATE TABLE hi.weird_enum_runs (id int PRIMARY KEY, status hi.weird_enum, created_at timestamptz);
INSERT INTO hi.weird_enum_runs VALUES (1, 'in "progress"', now() - interval '2 hours'), (2, 'NULL', now() - interval '2 hours'),
                                      (3, '{x}', now() - interval '2 hours');
-- A dropped column before the detected ones; extreme timestamps.
CREATE TABLE hi.dropped_col (gone text, id int PRIMARY KEY, status text, created_at timestamptz, finished_at timestamptz);
ALTER TABLE hi.dropped_col DROP COLUMN gone;
INSERT INTO hi.dropped_col VALUES (1, 'processing', now() - interval '2 hours');
CREATE TABLE hi.extreme_times (id int PRIMARY KEY, status text, created_at timestamptz, updated_at timestamptz);
INSERT INTO hi.extreme_times VALUES
    (1, 'processing', '-infinity', NULL),          -- stuck forever
    (2, 'processing', 'infinity', NULL),           -- never stuck
    (3, 'processing', NULL, NULL),                 -- no time at all: cannot be judged
    (4, 'processing', '-infinity', 'infinity'),    -- the later one counts
    (5, 'processing', '4713-01-01 00:00:00+00 BC', NULL);
-- Legacy inheritance: the parent's primary key does not cover its children.
CREATE TABLE hi.inh_parent (id int PRIMARY KEY, status text, created_at timestamptz);
CREATE TABLE hi.inh_child (PRIMARY KEY (id)) INHERITS (hi.inh_parent);
INSERT INTO hi.inh_parent VALUES (1, 'processing', now() - interval '2 hours');
INSERT INTO hi.inh_child VALUES (2, 'processing', now() - interval '1 hour'), (3, 'processing', now());
CREATE TABLE hi.inh_dup_parent (id int PRIMARY KEY, status text, created_at timestamptz);
CREATE TABLE hi.inh_dup_child () INHERITS (hi.inh_dup_parent);
INSERT INTO hi.inh_dup_parent VALUES (1, 'processing', now() - interval '3 hours');
INSERT INTO hi.inh_dup_child VALUES (1, 'processing', now() - interval '2 hours');
-- Partitioned by status: the key must include status, so id alone is not unique.
CREATE TABLE hi.status_parted (id int, status text, created_at timestamptz, PRIMARY KEY (id, status))
    PARTITION BY LIST (status);
-- Partitioned by id, two levels, with a default partition: watchable (tested after the loop).
CREATE TABLE hi.parted (
    id          bigint PRIMARY KEY,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz,
    finished_at timestamptz
) PARTITION BY RANGE (id);
CREATE TABLE hi.parted_a PARTITION OF hi.parted FOR VALUES FROM (1) TO (100);
CREATE TABLE hi.parted_b PARTITION OF hi.parted FOR VALUES FROM (100) TO (200) PARTITION BY HASH (id);
CREATE TABLE hi.parted_b0 PARTITION OF hi.parted_b FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE hi.parted_b1 PARTITION OF hi.parted_b FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE hi.parted_other PARTITION OF hi.parted DEFAULT;
INSERT INTO hi.parted (id, status, created_at, updated_at)
SELECT id, status, now() - started, now() - active
FROM (VALUES (1, 'processing', interval '2 hours', NULL::interval),   -- stuck, parted_a
             (2, 'processing', interval '3 hours', interval '1 minute'),  -- alive, parted_a
             (3, 'completed',  interval '9 hours', NULL),
             (100, 'pending',  interval '50 minutes', NULL),       -- stuck, parted_b*
             (101, 'processing', interval '40 minutes', NULL),     -- stuck, parted_b*
             (102, 'processing', interval '5 minutes', NULL),      -- young
             (500, 'processing', interval '4 hours', NULL),        -- stuck, parted_other
             (501, 'failed',   interval '4 hours', NULL)) AS v(id, status, started, active);
-- A time-partitioned table: its primary key must include the partition key.
CREATE TABLE hi.time_parted (id bigint, status text, created_at timestamptz, PRIMARY KEY (id, created_at))
    PARTITION BY RANGE (created_at);

-- A fingerprint of every run row of every table in schema hi, and of the history.
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
    rel regclass;
    part text;
    result text := '';
BEGIN
    FOR rel IN SELECT c.oid FROM pg_class c
               WHERE c.relnamespace = 'hi'::regnamespace AND c.relkind = 'r' ORDER BY c.oid LOOP
        EXECUTE format('SELECT coalesce(string_agg(t::text, %L ORDER BY t::text), %L) FROM ONLY %s AS t', ',', '', rel)
            INTO part;
        result := result || rel::text || ':' || md5(part) || ' ';
    END LOOP;
    RETURN md5(result) || ' history=' || (SELECT count(*) FROM recovery.history);
END
$fn$;

-- Runs one call in a subtransaction that is always rolled back: its SQLSTATE
-- ('ok' on success), its result as text, and the fingerprint after it.
CREATE FUNCTION pg_temp.run_case(setup text, call text, OUT code text, OUT result text, OUT message text,
                                 OUT fingerprint text)
LANGUAGE plpgsql AS $fn$
BEGIN
    BEGIN
        IF setup IS NOT NULL THEN EXECUTE setup; END IF;
        EXECUTE call INTO result;
        code := 'ok';
        fingerprint := pg_temp.fingerprint();
        RAISE EXCEPTION USING ERRCODE = 'HIRBK', MESSAGE = 'roll back this case';
    EXCEPTION WHEN OTHERS THEN
        IF code IS NULL THEN
            GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
            fingerprint := pg_temp.fingerprint();
        END IF;
    END;
END
$fn$;

CREATE TEMP TABLE hostile (
    n            serial,
    label        text NOT NULL,
    call         text NOT NULL,      -- one statement returning one value (or none)
    expected     text NOT NULL,      -- SQLSTATE, or 'ok'
    result       text,               -- when 'ok' and not NULL: the documented result
    changes_data boolean NOT NULL DEFAULT false,
    setup        text                -- run first, in the same subtransaction
);

INSERT INTO hostile (label, call, expected, result, changes_data, setup) VALUES
-- timeouts
('find: NULL timeout',                $$SELECT count(*) FROM recovery.find_stuck_runs(NULL)$$, '22004', NULL, false, NULL),
('recover: NULL timeout',             $$SELECT count(*) FROM recovery.recover_stuck_runs(NULL)$$, '22004', NULL, false, NULL),
('report: NULL timeout',              $$SELECT recovery.stuck_runs_report(NULL)$$, '22004', NULL, false, NULL),
('find: zero timeout',                $$SELECT count(*) FROM recovery.find_stuck_runs('0')$$, '22023', NULL, false, NULL),
('recover: zero timeout',             $$SELECT count(*) FROM recovery.recover_stuck_runs('0 seconds')$$, '22023', NULL, false, NULL),
('find: negative timeout',            $$SELECT count(*) FROM recovery.find_stuck_runs('-30 minutes')$$, '22023', NULL, false, NULL),
('recover: -0.5 seconds',             $$SELECT count(*) FROM recovery.recover_stuck_runs('-0.5 seconds')$$, '22023', NULL, false, NULL),
('find: 1 day -25 hours',             $$SELECT count(*) FROM recovery.find_stuck_runs('1 day -25 hours')$$, '22023', NULL, false, NULL),
('recover: 1 day -25 hours',          $$SELECT count(*) FROM recovery.recover_stuck_runs('1 day -25 hours')$$, '22023', NULL, false, NULL),
('find: 1 month -30 days (zero)',     $$SELECT count(*) FROM recovery.find_stuck_runs('1 month -30 days')$$, '22023', NULL, false, NULL),
('recover: 1 month -31 days',         $$SELECT count(*) FROM recovery.recover_stuck_runs('1 month -31 days')$$, '22023', NULL, false, NULL),
('find: -1 microsecond',              $$SELECT count(*) FROM recovery.find_stuck_runs('-00:00:00.000001')$$, '22023', NULL, false, NULL),
('find: 1000000 years',               $$SELECT count(*) FROM recovery.find_stuck_runs('1000000 years')$$, '22008', NULL, false, NULL),
('recover: 1000000 years',            $$SELECT count(*) FROM recovery.recover_stuck_runs('1000000 years')$$, '22008', NULL, false, NULL),
('report: 178000000 years',           $$SELECT recovery.recover_stuck_runs_report('178000000 years')$$, '22008', NULL, false, NULL),
('find: 2147483647 days',             $$SELECT count(*) FROM recovery.find_stuck_runs(make_interval(days => 2147483647))$$, '22008', NULL, false, NULL),
('find: not an interval',             $$SELECT count(*) FROM recovery.find_stuck_runs('soon')$$, '22007', NULL, false, NULL),
('find: SQL in the interval text',    $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes''); DELETE FROM hi.runs; --')$$, '22007', NULL, false, NULL),
('find: 1 microsecond (all active but the instant ones)',
                                      $$SELECT string_agg(run_id, ',' ORDER BY run_id) FROM recovery.find_stuck_runs('00:00:00.000001', 'hi.runs')$$, 'ok', '1,2', false, NULL),
('find: 1 day -86399.999999 seconds (1 microsecond)',
                                      $$SELECT string_agg(run_id, ',' ORDER BY run_id) FROM recovery.find_stuck_runs('1 day -86399.999999 seconds', 'hi.runs')$$, 'ok', '1,2', false, NULL),
('find: ISO 8601 PT30M',              $$SELECT string_agg(run_id, ',' ORDER BY run_id) FROM recovery.find_stuck_runs('PT30M')$$, 'ok', '1,2,e1', false, NULL),
('find: bare number is seconds',      $$SELECT string_agg(run_id, ',' ORDER BY run_id) FROM recovery.find_stuck_runs('2700', 'hi.runs')$$, 'ok', '1', false, NULL),
('find: 100 years finds nothing',     $$SELECT count(*) FROM recovery.find_stuck_runs('100 years')$$, 'ok', '0', false, NULL),
-- Mixed-sign intervals: rejected, or a timeout that never finds a run active right now.
('find: -1 year 361 days (1 day by interval rules, a cutoff days ahead by the calendar)',
                                      $$SELECT coalesce(bool_or(run_id IN ('3', '4')), false)::text FROM recovery.find_stuck_runs('-1 year 361 days', 'hi.runs')$$, 'ok|22023', 'false', false, NULL),
('recover: -1 year 361 days',         $$SELECT coalesce(bool_or(run_id IN ('3', '4')), false)::text FROM recovery.recover_stuck_runs('-1 year 361 days', NULL, 'hi.runs')$$, 'ok|22023', 'false', false, NULL),
('find: -12 months 360 days 1 second', $$SELECT coalesce(bool_or(run_id IN ('3', '4')), false)::text FROM recovery.find_stuck_runs('-12 months 360 days 00:00:01', 'hi.runs')$$, 'ok|22023', 'false', false, NULL),
('find: -3 months 90 days 1 second',  $$SELECT coalesce(bool_or(run_id IN ('3', '4')), false)::text FROM recovery.find_stuck_runs('-3 months 90 days 00:00:01', 'hi.runs')$$, 'ok|22023', 'false', false, NULL),
('find: 1 month -30 days 1 second',   $$SELECT coalesce(bool_or(run_id IN ('3', '4')), false)::text FROM recovery.find_stuck_runs('1 month -30 days 00:00:01', 'hi.runs')$$, 'ok|22023', 'false', false, NULL),
('find: 1 year -364 days',            $$SELECT coalesce(bool_or(run_id IN ('3', '4')), false)::text FROM recovery.find_stuck_runs('1 year -364 days', 'hi.runs')$$, 'ok|22023', 'false', false, NULL),
-- max_runs
('recover: max_runs 0',               $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', 0)$$, '22023', NULL, false, NULL),
('recover: max_runs -1',              $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', -1)$$, '22023', NULL, false, NULL),
('recover: max_runs -2147483648',     $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', -2147483648)$$, '22023', NULL, false, NULL),
('recover: max_runs 2147483648 (no such function)',
                                      $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', 2147483648)$$, '42883', NULL, false, NULL),
('recover report: max_runs 0',        $$SELECT recovery.recover_stuck_runs_report('30 minutes', 0)$$, '22023', NULL, false, NULL),
('recover: max_runs NULL is all',     $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', NULL)$$, 'ok', '3', true, NULL),
('recover: max_runs 2147483647',      $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', 2147483647)$$, 'ok', '3', true, NULL),
('recover: max_runs 1 takes the oldest',
                                      $$SELECT string_agg(run_id, ',') FROM recovery.recover_stuck_runs('30 minutes', 1, 'hi.runs')$$, 'ok', '1', true, NULL),
-- run_table filters
('find: unwatched table',             $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes', 'hi.unwatched')$$, '55000', NULL, false, NULL),
('recover: unwatched table',          $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi.unwatched')$$, '55000', NULL, false, NULL),
('report: unwatched table',           $$SELECT recovery.stuck_runs_report('30 minutes', 'hi.unwatched')$$, '55000', NULL, false, NULL),
('find: a view',                      $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes', 'hi.v')$$, '55000', NULL, false, NULL),
('find: a system table',              $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes', 'pg_class')$$, '55000', NULL, false, NULL),
('find: a nonexistent name',          $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes', 'hi.nope')$$, '42P01', NULL, false, NULL),
('find: a nonexistent OID',           $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes', 4294967295::oid::regclass)$$, '55000', NULL, false, NULL),
('recover: run_table NULL is all',    $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', NULL, NULL)$$, 'ok', '3', true, NULL),
-- what can be watched
('watch: NULL table',                 $$SELECT recovery.watch(NULL)$$, '22004', NULL, false, NULL),
('watch: nonexistent table',          $$SELECT recovery.watch('hi.does_not_exist')$$, '42P01', NULL, false, NULL),
('watch: nonexistent OID',            $$SELECT recovery.watch(4294967295::oid::regclass)$$, '42P01', NULL, false, NULL),
('watch: a view',                     $$SELECT recovery.watch('hi.v')$$, '42809', NULL, false, NULL),
('watch: a materialized view',        $$SELECT recovery.watch('hi.mv')$$, '42809', NULL, false, NULL),
('watch: a sequence',                 $$SELECT recovery.watch('hi.seq')$$, '42809', NULL, false, NULL),
('watch: a composite type',           $$SELECT recovery.watch('hi.comp')$$, '42809', NULL, false, NULL),
('watch: an index',                   $$SELECT recovery.watch('hi.runs_pkey')$$, '42809', NULL, false, NULL),
('watch: a TOAST table',              $$SELECT recovery.watch((SELECT reltoastrelid::regclass FROM pg_class WHERE oid = 'hi.runs'::regclass))$$, '42809', NULL, false, NULL),
('watch: a temporary table',          $$SELECT recovery.watch('temp_runs')$$, '42809', NULL, false, NULL),
('watch: pg_catalog.pg_class',        $$SELECT recovery.watch('pg_catalog.pg_class')$$, '42809', NULL, false, NULL),
('watch: an information_schema table', $$SELECT recovery.watch('information_schema.sql_features')$$, '42809', NULL, false, NULL),
('watch: recovery.history itself',    $$SELECT recovery.watch('recovery.history', status_column => 'new_status', started_column => 'recovered_at', active_statuses => '{FAILED}', failed_status => 'X')$$, '42809', NULL, false, NULL),
('watch: recovery.watched_tables itself', $$SELECT recovery.watch('recovery.watched_tables', status_column => 'failed_status', started_column => 'watched_at', id_column => 'run_table', active_statuses => '{FAILED}', failed_status => 'X')$$, '42809', NULL, false, NULL),
('watch: no primary key',             $$SELECT recovery.watch('hi.no_pk')$$, '42P10', NULL, false, NULL),
('watch: two-column primary key',     $$SELECT recovery.watch('hi.two_pk')$$, '42P10', NULL, false, NULL),
('watch: id with only a partial unique index', $$SELECT recovery.watch('hi.partial_unique', id_column => 'id')$$, '42P10', NULL, false, NULL),
('watch: time-partitioned, (id, created_at) key (limitation)', $$SELECT recovery.watch('hi.time_parted')$$, '42P10', NULL, false, NULL),
('watch: id_column is a system column', $$SELECT recovery.watch('hi.runs', id_column => 'ctid', active_statuses => '{pending}', failed_status => 'failed')$$, '42P10', NULL, false, NULL),
-- columns
('watch: status_column NULL',         $$SELECT recovery.watch('hi.runs', status_column => NULL)$$, '22004', NULL, false, NULL),
('watch: status_column empty',        $$SELECT recovery.watch('hi.runs', status_column => '', active_statuses => '{pending}', failed_status => 'failed')$$, '42703', NULL, false, NULL),
('watch: status_column with SQL',     $$SELECT recovery.watch('hi.runs', status_column => 'status; DROP TABLE hi.runs; --', active_statuses => '{pending}', failed_status => 'failed')$$, '42703', NULL, false, NULL),
('watch: status_column in other case', $$SELECT recovery.watch('hi.runs', status_column => 'Status', active_statuses => '{pending}', failed_status => 'failed')$$, '42703', NULL, false, NULL),
('watch: started_column with SQL',    $$SELECT recovery.watch('hi.runs', started_column => 'created_at) OR (true', active_statuses => '{pending}', failed_status => 'failed')$$, '42703', NULL, false, NULL),
('watch: 100-character column name',  $$SELECT recovery.watch('hi.runs', status_column => repeat('s', 100), active_statuses => '{pending}', failed_status => 'failed')$$, '42703', NULL, false, NULL),
('watch: status_column is a system column', $$SELECT recovery.watch('hi.runs', status_column => 'xmin', active_statuses => '{pending}', failed_status => 'failed')$$, '42804', NULL, false, NULL),
('watch: started_column is a system column', $$SELECT recovery.watch('hi.runs', started_column => 'xmin', active_statuses => '{pending}', failed_status => 'failed')$$, '42804', NULL, false, NULL),
('watch: activity_column is the status', $$SELECT recovery.watch('hi.runs', activity_column => 'status', active_statuses => '{pending}', failed_status => 'failed')$$, '42804', NULL, false, NULL),
('watch: finished_column is the id',  $$SELECT recovery.watch('hi.runs', finished_column => 'id', active_statuses => '{pending}', failed_status => 'failed')$$, '42804', NULL, false, NULL),
('watch: finished_column is the started column', $$SELECT recovery.watch('hi.runs', finished_column => 'created_at', active_statuses => '{pending}', failed_status => 'failed')$$, '22023', NULL, false, NULL),
('watch: activity_column is the finished column', $$SELECT recovery.watch('hi.runs', activity_column => 'finished_at', active_statuses => '{pending}', failed_status => 'failed')$$, '22023', NULL, false, NULL),
('watch: id_column is the status',    $$SELECT recovery.watch('hi.runs', id_column => 'status', active_statuses => '{pending}', failed_status => 'failed')$$, '22023', NULL, false, NULL),
('watch: integer status',             $$SELECT recovery.watch('hi.int_status')$$, '42804', NULL, false, NULL),
('watch: char(10) status',            $$SELECT recovery.watch('hi.char_status')$$, '42804', NULL, false, NULL),
('watch: jsonb status',               $$SELECT recovery.watch('hi.json_status')$$, '42804', NULL, false, NULL),
('watch: date started',               $$SELECT recovery.watch('hi.date_start')$$, '42804', NULL, false, NULL),
('watch: time started',               $$SELECT recovery.watch('hi.time_start')$$, '42804', NULL, false, NULL),
('watch: text started',               $$SELECT recovery.watch('hi.text_start')$$, '42804', NULL, false, NULL),
('watch: bigint epoch started',       $$SELECT recovery.watch('hi.epoch_start')$$, '42804', NULL, false, NULL),
('watch: wrong argument type',        $$SELECT recovery.watch('hi.runs', failed_status => 42)$$, '42883', NULL, false, NULL),
('watch: statuses not an array',      $$SELECT recovery.watch('hi.runs', active_statuses => 'pending')$$, '22P02', NULL, false, NULL),
-- statuses
('watch: empty active_statuses',      $$SELECT recovery.watch('hi.runs', active_statuses => '{}', failed_status => 'failed')$$, '22023', NULL, false, NULL),
('watch: NULL active_statuses',       $$SELECT recovery.watch('hi.runs', active_statuses => NULL, failed_status => 'failed')$$, '22004', NULL, false, NULL),
('watch: NULL in active_statuses',    $$SELECT recovery.watch('hi.runs', active_statuses => '{pending,NULL}', failed_status => 'failed')$$, '22023', NULL, false, NULL),
('watch: empty string status',        $$SELECT recovery.watch('hi.runs', active_statuses => '{pending,""}', failed_status => 'failed')$$, '22023', NULL, false, NULL),
('watch: duplicate active statuses',  $$SELECT recovery.watch('hi.runs', active_statuses => '{pending,processing,pending}', failed_status => 'failed')$$, '22023', NULL, false, NULL),
('watch: failed status in active list', $$SELECT recovery.watch('hi.runs', active_statuses => '{pending,processing,failed}', failed_status => 'failed')$$, '22023', NULL, false, NULL),
('watch: NULL failed_status',         $$SELECT recovery.watch('hi.runs', active_statuses => '{pending}', failed_status => NULL)$$, '22004', NULL, false, NULL),
('watch: empty failed_status',        $$SELECT recovery.watch('hi.runs', active_statuses => '{pending}', failed_status => '')$$, '22023', NULL, false, NULL),
('watch: enum lacks the failed label (case)', $$SELECT recovery.watch('hi.enum_runs', failed_status => 'failed')$$, '22023', NULL, false, NULL),
('watch: enum lacks an active label', $$SELECT recovery.watch('hi.enum_runs', active_statuses => '{PENDING,RUNNING}')$$, '22023', NULL, false, NULL),
('watch: enum label with SQL',        $$SELECT recovery.watch('hi.enum_runs', failed_status => 'FAILED''); DROP TABLE hi.runs; --')$$, '22023', NULL, false, NULL),
('watch: two-dimensional active_statuses are flattened', $$SELECT active_statuses::text FROM recovery.watched_tables WHERE run_table = 'hi.runs'::regclass$$, 'ok', '{pending,processing}', false,
                                      $$SELECT recovery.watch('hi.runs', active_statuses => '{{pending},{processing}}', failed_status => 'failed')$$),
('watch: active_statuses with lower bound 5', $$SELECT active_statuses::text FROM recovery.watched_tables WHERE run_table = 'hi.runs'::regclass$$, 'ok', '{pending,processing}', false,
                                      $$SELECT recovery.watch('hi.runs', active_statuses => '[5:6]={pending,processing}', failed_status => 'failed')$$),
('watch + find: statuses that need quoting in an array',
                                      $$SELECT string_agg(run_id || '=' || status, ',' ORDER BY run_id) FROM recovery.find_stuck_runs('30 minutes', 'hi.weird_status')$$,
                                      'ok', '1=in "progress",2=a,b,3={x},4=back\slash,5=NULL,6= ', false,
                                      $$SELECT recovery.watch('hi.weird_status', active_statuses => ARRAY['in "progress"', 'a,b', '{x}', 'back\slash', 'NULL', ' '], failed_status => 'failed')$$),
('watch + recover: enum labels that need quoting',
                                      $$SELECT string_agg(run_id || '=' || new_status, ',' ORDER BY run_id) FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi.weird_enum_runs')$$,
                                      'ok', '1=x''); DROP TABLE hi.runs; --,3=x''); DROP TABLE hi.runs; --', true,
                                      $$SELECT recovery.watch('hi.weird_enum_runs', active_statuses => ARRAY['in "progress"', '{x}', 'a,b'], failed_status => 'x''); DROP TABLE hi.runs; --')$$),
-- registrations that are accepted, but the database refuses the failed status: the call fails, nothing changes
('recover: domain CHECK refuses the failed status', $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')$$, '23514', NULL, false,
                                      $$SELECT recovery.watch('hi.domain_status', active_statuses => '{processing}', failed_status => 'failed')$$),
('recover: table CHECK refuses the failed status', $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi.check_status')$$, '23514', NULL, false,
                                      $$SELECT recovery.watch('hi.check_status', active_statuses => '{processing}', failed_status => 'failed')$$),
('recover: varchar(4) too short for the failed status', $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi.short_status')$$, '22001', NULL, false,
                                      $$SELECT recovery.watch('hi.short_status', active_statuses => '{busy}', failed_status => 'failed')$$),
('watch: a generated finished column cannot be written', $$SELECT recovery.watch('hi.generated_finished', active_statuses => '{processing}', failed_status => 'failed')$$, '42804|428C9|22023', NULL, false, NULL),
('watch: a generated status column cannot be written', $$SELECT recovery.watch('hi.generated_status', active_statuses => '{processing}', failed_status => 'failed')$$, '42804|428C9|22023', NULL, false, NULL),
-- re-watching, unwatching
('watch twice: returns false',        $$SELECT recovery.watch('hi.runs', active_statuses => '{pending,processing}', failed_status => 'failed')$$, 'ok', 'false', false, NULL),
('watch twice: updates the registration', $$SELECT active_statuses::text || ' ' || failed_status FROM recovery.watched_tables WHERE run_table = 'hi.runs'::regclass$$, 'ok', '{processing} dead', false,
                                      $$SELECT recovery.watch('hi.runs', active_statuses => '{processing}', failed_status => 'dead')$$),
('watch twice: the new registration is used', $$SELECT string_agg(run_id || '=' || new_status, ',' ORDER BY run_id) FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi.runs')$$, 'ok', '1=dead', true,
                                      $$SELECT recovery.watch('hi.runs', active_statuses => '{processing}', failed_status => 'dead')$$),
('unwatch: an unknown table',         $$SELECT recovery.unwatch('hi.unwatched')$$, 'ok', 'false', false, NULL),
('unwatch: a view',                   $$SELECT recovery.unwatch('hi.v')$$, 'ok', 'false', false, NULL),
('unwatch: a nonexistent OID',        $$SELECT recovery.unwatch(4294967295::oid::regclass)$$, 'ok', 'false', false, NULL),
('unwatch: NULL',                     $$SELECT coalesce(recovery.unwatch(NULL)::text, 'NULL')$$, 'ok', 'NULL', false, NULL),
('unwatch: a nonexistent name',       $$SELECT recovery.unwatch('hi.nope')$$, '42P01', NULL, false, NULL),
('unwatch twice',                     $$SELECT recovery.unwatch('hi.runs')$$, 'ok', 'false', false, $$SELECT recovery.unwatch('hi.runs')$$),
('unwatched: not found any more',     $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes', 'hi.runs')$$, '55000', NULL, false, $$SELECT recovery.unwatch('hi.runs')$$),
-- odd identifiers work and inject nothing
('watch + recover: table and columns named with SQL fragments',
                                      $$SELECT string_agg(run_table || '#' || run_id || '=' || new_status, ',') FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi."Runs; DROP TABLE hi.runs; --"')$$,
                                      'ok', 'hi."Runs; DROP TABLE hi.runs; --"#1=failed', true,
                                      $$SELECT recovery.watch('hi."Runs; DROP TABLE hi.runs; --"', status_column => 'St"atus', active_statuses => '{processing}', failed_status => 'failed')$$),
('watch + recover: unicode table and columns',
                                      $$SELECT string_agg(run_table || '#' || run_id || '=' || new_status || '/' || (run->>'完了日時' IS NOT NULL), ',') FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi."ラン 実行"')$$,
                                      'ok', 'hi."ラン 実行"#1=失敗/true', true,
                                      $$SELECT recovery.watch('hi."ラン 実行"', status_column => '状態', started_column => '作成日時', finished_column => '完了日時', active_statuses => '{処理中}', failed_status => '失敗')$$),
('watch + find: keywords and $1 as names',
                                      $$SELECT string_agg(run_table || '#' || run_id, ',') FROM recovery.find_stuck_runs('30 minutes', 'hi."select"')$$,
                                      'ok', 'hi."select"#1', false,
                                      $$SELECT recovery.watch('hi."select"', status_column => 'where', started_column => 'order', activity_column => '$1', id_column => 'from', active_statuses => '{running}', failed_status => 'failed')$$),
('watch + recover: a column named like a predicate',
                                      $$SELECT string_agg(run_id, ',') FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi."status) OR (true"')$$,
                                      'ok', '1', true,
                                      $$SELECT recovery.watch('hi."status) OR (true"', status_column => 'status) OR (true', started_column => 'created_at''); DELETE FROM hi.runs; --', active_statuses => '{running}', failed_status => 'failed')$$),
('watch + find: a dropped column before the detected ones',
                                      $$SELECT string_agg(run_id, ',') FROM recovery.find_stuck_runs('30 minutes', 'hi.dropped_col')$$,
                                      'ok', '1', false,
                                      $$SELECT recovery.watch('hi.dropped_col', active_statuses => '{processing}', failed_status => 'failed')$$),
('watch + find: -infinity, infinity, NULL and 4713 BC times',
                                      $$SELECT string_agg(run_id || ':' || stuck_minutes, ',' ORDER BY run_id) FROM recovery.find_stuck_runs('30 minutes', 'hi.extreme_times')$$,
                                      'ok', '1:2147483647,5:2147483647', false,
                                      $$SELECT recovery.watch('hi.extreme_times', active_statuses => '{processing}', failed_status => 'failed')$$),
('recover: -infinity and 4713 BC times',
                                      $$SELECT string_agg(run_id || ':' || stuck_minutes, ',' ORDER BY run_id) FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi.extreme_times')$$,
                                      'ok', '1:2147483647,5:2147483647', true,
                                      $$SELECT recovery.watch('hi.extreme_times', active_statuses => '{processing}', failed_status => 'failed')$$),
-- the administrative functions (recovery.prune_history, run_worker_now, schedule)
('prune_history: NULL',               $$SELECT recovery.prune_history(NULL)$$, '22004', NULL, false, NULL),
('prune_history: zero',               $$SELECT recovery.prune_history('0')$$, '22023', NULL, false, NULL),
('prune_history: negative',           $$SELECT recovery.prune_history('-90 days')$$, '22023', NULL, false, NULL),
('prune_history: 1 day -25 hours',    $$SELECT recovery.prune_history('1 day -25 hours')$$, '22023', NULL, false, NULL),
('prune_history: 1000000 years',      $$SELECT recovery.prune_history('1000000 years')$$, '22008', NULL, false, NULL),
('prune_history: keeps history younger than 1 day', $$SELECT recovery.prune_history('1 day')$$, 'ok', '0', true,
                                      $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')$$),
('prune_history: -1 year 361 days must not delete history written just now', $$SELECT recovery.prune_history('-1 year 361 days')$$, 'ok|22023', '0', true,
                                      $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')$$),
('prune_history: in a read-only transaction', $$SELECT recovery.prune_history('1 day')$$, '25006', NULL, false, 'SET TRANSACTION READ ONLY'),
('run_worker_now: NULL database',     $$SELECT recovery.run_worker_now(NULL)$$, '22004', NULL, false, NULL),
('run_worker_now: no such database',  $$SELECT recovery.run_worker_now('no such database; --')$$, 'ok', 'false', false, NULL),
('schedule: without pg_cron',         $$SELECT recovery.schedule('* * * * *', '1 day')$$, '55000', NULL, false, NULL),
('schedule: a negative timeout',      $$SELECT recovery.schedule('* * * * *', '-1 day')$$, '22023', NULL, false, NULL),
('schedule: -1 year 361 days, refused as the engine refuses it', $$SELECT recovery.schedule('* * * * *', '-1 year 361 days')$$, '22023', NULL, false, NULL),
('schedule: 1 month -30 days',        $$SELECT recovery.schedule('* * * * *', '1 month -30 days')$$, '22023', NULL, false, NULL),
('schedule: NULL timeout',            $$SELECT recovery.schedule('* * * * *', NULL)$$, '22004', NULL, false, NULL),
('find: -1 year 361 days (the same rule)', $$SELECT count(*) FROM recovery.find_stuck_runs('-1 year 361 days')$$, '22023', NULL, false, NULL),
('unschedule: without pg_cron',       $$SELECT recovery.unschedule()$$, '55000', NULL, false, NULL),
-- inheritance and partitions (see also the section after the loop)
('watch + find: a legacy inheritance parent includes its children',
                                      $$SELECT string_agg(run_id, ',' ORDER BY run_id) FROM recovery.find_stuck_runs('30 minutes', 'hi.inh_parent')$$, 'ok', '1,2', false,
                                      $$SELECT recovery.watch('hi.inh_parent', active_statuses => '{processing}', failed_status => 'failed')$$),
('recover: max_runs 1 on an inheritance parent whose child repeats an id',
                                      $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', 1, 'hi.inh_dup_parent')$$, 'ok', '1', true,
                                      $$SELECT recovery.watch('hi.inh_dup_parent', active_statuses => '{processing}', failed_status => 'failed')$$),
('watch: partitioned by status, (id, status) key (limitation)', $$SELECT recovery.watch('hi.status_parted', id_column => 'id')$$, '42P10', NULL, false, NULL),
('find: a partition of a watched parent is not itself watched', $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes', 'hi.parted_a')$$, '55000', NULL, false,
                                      $$SELECT recovery.watch('hi.parted', active_statuses => '{pending,processing}', failed_status => 'failed')$$),
('watch + recover: a leaf partition on its own', $$SELECT string_agg(run_table, ',') FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi.parted_a')$$, 'ok', 'hi.parted_a', true,
                                      $$SELECT recovery.watch('hi.parted_a', active_statuses => '{pending,processing}', failed_status => 'failed')$$),
-- a read-only transaction
('read-only: find works',             $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes')$$, 'ok', '3', false, 'SET TRANSACTION READ ONLY'),
('read-only: the find report works',  $$SELECT recovery.stuck_runs_report('30 minutes')->>'count'$$, 'ok', '3', false, 'SET TRANSACTION READ ONLY'),
('read-only: recover fails',          $$SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')$$, '25006', NULL, false, 'SET TRANSACTION READ ONLY'),
('read-only: recover report fails',   $$SELECT recovery.recover_stuck_runs_report('30 minutes')$$, '25006', NULL, false, 'SET TRANSACTION READ ONLY'),
('read-only: recover_each_table fails, not table by table', $$SELECT count(*) FROM recovery.recover_each_table('30 minutes')$$, '25006', NULL, false, 'SET TRANSACTION READ ONLY'),
('read-only: watch fails',            $$SELECT recovery.watch('hi.unwatched', active_statuses => '{processing}', failed_status => 'failed')$$, '25006', NULL, false, 'SET TRANSACTION READ ONLY'),
('read-only: re-watch fails',         $$SELECT recovery.watch('hi.runs', active_statuses => '{pending,processing}', failed_status => 'failed')$$, '25006', NULL, false, 'SET TRANSACTION READ ONLY'),
('read-only: unwatch fails',          $$SELECT recovery.unwatch('hi.runs')$$, '25006', NULL, false, 'SET TRANSACTION READ ONLY');

INSERT INTO hostile (label, call, expected)
SELECT label, call, '42809' FROM (VALUES
    ('watch: a file_fdw foreign table',     $$SELECT recovery.watch('hi.ft_file')$$, 'hi.ft_file'),
    ('watch: a postgres_fdw foreign table', $$SELECT recovery.watch('hi.ft_remote')$$, 'hi.ft_remote'),
    ('find: a foreign table as run_table',  $$SELECT count(*) FROM recovery.find_stuck_runs('30 minutes', 'hi.ft_file')$$, 'hi.ft_file')
) AS v(label, call, needs)
WHERE to_regclass(needs) IS NOT NULL;
UPDATE hostile SET expected = '55000' WHERE label = 'find: a foreign table as run_table';

SELECT plan((SELECT 2 * count(*)::int FROM hostile) + 14);
SELECT diag('skipped: ' || fdw || ' is not installed') FROM unnest(ARRAY['file_fdw', 'postgres_fdw']) AS fdw
WHERE NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = fdw);
SELECT diag(format('hostile calls tried: %s', (SELECT count(*) FROM hostile)));

SELECT pg_temp.fingerprint() AS fingerprint_before \gset

CREATE TEMP TABLE outcome (n integer, code text, got text, message text, fingerprint text);
DO $$
DECLARE
    c record;
    r record;
BEGIN
    FOR c IN SELECT * FROM hostile ORDER BY n LOOP
        SELECT * INTO r FROM pg_temp.run_case(c.setup, c.call);
        INSERT INTO outcome VALUES (c.n, r.code, r.result, r.message, r.fingerprint);
    END LOOP;
END
$$;

-- Every call: the expected SQLSTATE (and documented result), and nothing
-- changed that should not have.
CREATE FUNCTION pg_temp.check_outcomes(before text) RETURNS SETOF text LANGUAGE plpgsql AS $fn$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT h.*, o.code, o.got, o.message, o.fingerprint
             FROM hostile h JOIN outcome o USING (n) ORDER BY h.n LOOP
        IF c.code = ANY (string_to_array(c.expected, '|')) AND c.code = 'ok' AND c.result IS NOT NULL THEN
            RETURN NEXT is(c.got, c.result, format('#%s %s: ok, %s', c.n, c.label, c.result));
        ELSE
            RETURN NEXT is(c.code, CASE WHEN c.code = ANY (string_to_array(c.expected, '|')) THEN c.code ELSE c.expected END,
                           format('#%s %s: %s%s', c.n, c.label, c.expected,
                                  CASE WHEN c.code NOT IN ('ok') THEN ' (' || c.message || ')' ELSE '' END));
        END IF;
        -- A call that raised changed nothing, whatever its setup did.
        IF c.changes_data AND c.code = 'ok' THEN
            RETURN NEXT isnt(c.fingerprint, before, format('#%s %s: recovered runs', c.n, c.label));
        ELSE
            RETURN NEXT is(c.fingerprint, before, format('#%s %s: no run and no history changed', c.n, c.label));
        END IF;
    END LOOP;
END
$fn$;
SELECT * FROM pg_temp.check_outcomes(:'fingerprint_before');
SELECT is(pg_temp.fingerprint(), :'fingerprint_before', 'after all hostile calls, every run row and the history are as before');
SELECT is((SELECT count(*) FROM hi.runs), 5::bigint, 'no injected DELETE or DROP ran: hi.runs still has its rows');

------------------------------------------------------------------------------
-- Partitioned tables work: watch the parent, find and recover through it,
-- the rows change in their partitions (two levels and a default partition).
------------------------------------------------------------------------------
SELECT coalesce(max(id), 0) AS history_max FROM recovery.history \gset
SELECT is(recovery.watch('hi.parted', active_statuses => '{pending,processing}', failed_status => 'failed'), true,
          'partitioned: the parent can be watched');
SELECT ok((SELECT count(DISTINCT tableoid) FROM hi.parted WHERE id IN (1, 100, 101, 500)) >= 3,
          'partitioned: precondition: the stuck runs are spread over at least three leaf partitions');
SELECT results_eq(
    $$SELECT run_table, run_id, status, stuck_minutes FROM recovery.find_stuck_runs('30 minutes', 'hi.parted')$$,
    $$VALUES ('hi.parted', '500', 'processing', 240), ('hi.parted', '1', 'processing', 120),
             ('hi.parted', '100', 'pending', 50), ('hi.parted', '101', 'processing', 40)$$,
    'partitioned: find through the parent sees the stuck runs of every partition, oldest first');
SELECT results_eq(
    $$SELECT run_id FROM recovery.recover_stuck_runs('30 minutes', 1, 'hi.parted')$$,
    $$VALUES ('500')$$, 'partitioned: max_runs 1 recovers the oldest, from the default partition');
SELECT results_eq(
    $$SELECT run_id, previous_status, new_status FROM recovery.recover_stuck_runs('30 minutes', NULL, 'hi.parted') ORDER BY run_id::int$$,
    $$VALUES ('1', 'processing', 'failed'), ('100', 'pending', 'failed'), ('101', 'processing', 'failed')$$,
    'partitioned: recover through the parent recovers the rest');
SELECT results_eq(
    $$SELECT id, status, finished_at IS NOT NULL FROM hi.parted ORDER BY id$$,
    $$VALUES (1::bigint, 'failed', true), (2, 'processing', false), (3, 'completed', false), (100, 'failed', true),
             (101, 'failed', true), (102, 'processing', false), (500, 'failed', true), (501, 'failed', false)$$,
    'partitioned: the stuck rows changed in their partitions, nothing else did');
SELECT is((SELECT count(*) FROM ONLY hi.parted_a WHERE status = 'failed') +
          (SELECT count(*) FROM ONLY hi.parted_b0 WHERE status = 'failed') +
          (SELECT count(*) FROM ONLY hi.parted_b1 WHERE status = 'failed') +
          (SELECT count(*) FROM ONLY hi.parted_other WHERE status = 'failed' AND id = 500), 4::bigint,
          'partitioned: the failed rows are in the leaf partitions (row movement not needed)');
SELECT results_eq(
    $$SELECT run_table, run_id FROM recovery.history WHERE id > $$ || :history_max || $$ ORDER BY run_id::int$$,
    $$VALUES ('hi.parted', '1'), ('hi.parted', '100'), ('hi.parted', '101'), ('hi.parted', '500')$$,
    'partitioned: one history row per run, naming the parent');
SELECT is_empty($$SELECT * FROM recovery.find_stuck_runs('30 minutes', 'hi.parted')$$,
                'partitioned: nothing is stuck any more');
-- A leaf watched as well as its parent: each run is still recovered once.
INSERT INTO hi.parted (id, status, created_at) VALUES (7, 'processing', now() - interval '1 hour');
SELECT is(recovery.watch('hi.parted_a', active_statuses => '{pending,processing}', failed_status => 'failed'), true,
          'partitioned: a leaf can be watched too');
SELECT results_eq($$SELECT run_table, run_id FROM recovery.recover_stuck_runs('30 minutes') WHERE run_table LIKE 'hi.parted%'$$,
                  $$VALUES ('hi.parted', '7')$$,
                  'partitioned: watched through parent and leaf, the run is recovered once');
SELECT is((SELECT count(*) FROM recovery.history WHERE run_id = '7' AND id > :history_max), 1::bigint,
          'partitioned: and has one history row');

SELECT * FROM finish();
ROLLBACK;
