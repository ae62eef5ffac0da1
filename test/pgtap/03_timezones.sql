-- No answer depends on the session's TimeZone: for a Prisma table
-- (timestamp(3) holding UTC wall-clock times), a timestamptz table and a mixed
-- table (plain timestamp started, timestamptz heartbeat), the runs found,
-- their stuck_minutes, started_at and last_activity_at, the set recovered,
-- the finished values stored and the history written are identical under
-- UTC, America/New_York, Asia/Kolkata and others. A timeout of '1 day' is 24
-- hours, also in a zone whose last day had 25 or 23 hours (synthetic POSIX
-- zones whose DST change happened 12 hours before the test runs).
BEGIN;
SELECT plan(56);

CREATE SCHEMA tz_app;
CREATE TYPE tz_app."RunStatus" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED');

-- Prisma: timestamp(3) without time zone, written as UTC wall-clock time.
CREATE TABLE tz_app.prisma_runs (
    id            text PRIMARY KEY,
    status        tz_app."RunStatus" NOT NULL,
    "createdAt"   timestamp(3) NOT NULL,
    "updatedAt"   timestamp(3),
    "completedAt" timestamp(3)
);
-- Rails/Django: timestamptz.
CREATE TABLE tz_app.tz_runs (
    id          integer PRIMARY KEY,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz,
    finished_at timestamptz
);
-- Mixed: a plain timestamp (UTC) started column, a timestamptz heartbeat and
-- a plain timestamp finished column.
CREATE TABLE tz_app.mixed_runs (
    id           integer PRIMARY KEY,
    status       text NOT NULL,
    started_at   timestamp NOT NULL,
    heartbeat_at timestamptz,
    finished_at  timestamp
);

-- The same runs in every table, as offsets from now: (name, status, started
-- ago, last activity ago). 'late-start' started 10 minutes ago but its
-- heartbeat column says 2 hours ago: the later of the two counts, so it is
-- not stuck (reading a plain timestamp as local time would move it by hours).
CREATE TEMP TABLE spec (n integer, name text, status text, started interval, active interval);
INSERT INTO spec VALUES
    (1, 'stuck-45',   'PROCESSING', '45 minutes 20 seconds', NULL),
    (2, 'hb-40',      'PROCESSING', '50 minutes',            '40 minutes 30 seconds'),
    (3, 'alive',      'PROCESSING', '3 hours',               '1 minute'),
    (4, 'young',      'PENDING',    '5 minutes',             NULL),
    (5, 'late-start', 'PROCESSING', '10 minutes',            '2 hours'),
    (6, 'day-plus',   'PENDING',    '24 hours 30 minutes 20 seconds', NULL),
    (7, 'day-minus',  'PENDING',    '23 hours 30 minutes 20 seconds', NULL),
    (8, 'done',       'COMPLETED',  '30 hours',              '29 hours');
INSERT INTO tz_app.prisma_runs (id, status, "createdAt", "updatedAt")
SELECT name, status::tz_app."RunStatus", (now() AT TIME ZONE 'UTC') - started,
       (now() AT TIME ZONE 'UTC') - active FROM spec;
INSERT INTO tz_app.tz_runs (id, status, created_at, updated_at)
SELECT n, lower(status), now() - started, now() - active FROM spec;
INSERT INTO tz_app.mixed_runs (id, status, started_at, heartbeat_at)
SELECT n, lower(status), (now() AT TIME ZONE 'UTC') - started, now() - active FROM spec;

SELECT ok(recovery.watch('tz_app.prisma_runs'), 'the Prisma table is watched');
SELECT ok(recovery.watch('tz_app.tz_runs', active_statuses => '{pending,processing}', failed_status => 'failed'),
          'the timestamptz table is watched');
SELECT ok(recovery.watch('tz_app.mixed_runs', activity_column => 'heartbeat_at',
                         active_statuses => '{pending,processing}', failed_status => 'failed'),
          'the mixed table is watched');
SELECT results_eq(
    $$SELECT started_column::text COLLATE "default", activity_column::text COLLATE "default",
             finished_column::text COLLATE "default"
      FROM recovery.watched_tables WHERE run_table::oid = 'tz_app.mixed_runs'::regclass::oid$$,
    $$VALUES ('started_at'::text, 'heartbeat_at'::text, 'finished_at'::text)$$,
    'the mixed table: timestamp started, timestamptz heartbeat, timestamp finished');

-- Everything observable, under a TimeZone, as jsonb with instants as epoch
-- seconds (a timestamptz's text depends on TimeZone, its instant must not).
-- The recovery is rolled back afterwards, so every zone starts alike.
CREATE FUNCTION pg_temp.observe(zone text) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
    result jsonb;
BEGIN
    BEGIN
        PERFORM set_config('TimeZone', zone, true);
        SELECT jsonb_build_object(
            'find', (SELECT jsonb_agg(jsonb_build_array(run_table, run_id, status, stuck_minutes,
                                                        extract(epoch FROM started_at),
                                                        extract(epoch FROM last_activity_at))
                                      ORDER BY run_table, run_id)
                     FROM recovery.find_stuck_runs('30 minutes')),
            'find_1_day', (SELECT jsonb_agg(jsonb_build_array(run_table, run_id, stuck_minutes)
                                            ORDER BY run_table, run_id)
                           FROM recovery.find_stuck_runs('1 day')),
            'prisma_rows', (SELECT jsonb_agg(run ORDER BY run_id)
                            FROM recovery.find_stuck_runs('30 minutes', 'tz_app.prisma_runs')),
            'tz_row_created', (SELECT jsonb_agg(extract(epoch FROM (run->>'created_at')::timestamptz) ORDER BY run_id)
                               FROM recovery.find_stuck_runs('30 minutes', 'tz_app.tz_runs')))
        INTO result;
        result := result || jsonb_build_object(
            'recover', (SELECT jsonb_agg(jsonb_build_array(run_table, run_id, previous_status, new_status,
                                                           stuck_minutes, extract(epoch FROM started_at),
                                                           extract(epoch FROM recovered_at))
                                         ORDER BY run_table, run_id)
                        FROM recovery.recover_stuck_runs('30 minutes')));
        result := result || jsonb_build_object(
            'prisma_after', (SELECT jsonb_agg(jsonb_build_array(id, status, "completedAt") ORDER BY id)
                             FROM tz_app.prisma_runs),
            'tz_after', (SELECT jsonb_agg(jsonb_build_array(id, status, extract(epoch FROM finished_at)) ORDER BY id)
                         FROM tz_app.tz_runs),
            'mixed_after', (SELECT jsonb_agg(jsonb_build_array(id, status, finished_at) ORDER BY id)
                            FROM tz_app.mixed_runs),
            'history', (SELECT jsonb_agg(jsonb_build_array(run_table, run_id, previous_status, new_status,
                                                           stuck_minutes, extract(epoch FROM started_at),
                                                           extract(epoch FROM last_activity_at))
                                         ORDER BY run_table, run_id)
                        FROM recovery.history WHERE run_table LIKE 'tz_app.%'));
        RAISE EXCEPTION USING ERRCODE = 'TZRBK', MESSAGE = 'roll back this zone';
    EXCEPTION WHEN SQLSTATE 'TZRBK' THEN
        NULL;
    END;
    RETURN result;
END
$fn$;

-- Synthetic POSIX zones (UTC-5, DST UTC-4) whose DST ended (fall-back) or
-- began (spring-forward) 12 hours ago, so their last calendar day had 25 or
-- 23 hours. Rules use zero-based day-of-year numbers and local times.
CREATE FUNCTION pg_temp.dst_zone(fall_back boolean) RETURNS text LANGUAGE sql AS $fn$
    WITH t AS (
        -- the change's local time: DST (UTC-4) before a fall-back, standard (UTC-5) before a spring-forward
        SELECT (now() AT TIME ZONE 'UTC') - interval '12 hours'
               - CASE WHEN fall_back THEN interval '4 hours' ELSE interval '5 hours' END AS local_change)
    SELECT CASE WHEN fall_back
                THEN format('XST5XDT,%s/2,%s/%s', (day + 180) % 365, day, at)
                ELSE format('YST5YDT,%s/%s,%s/2', day, at, (day + 180) % 365) END
    FROM (SELECT extract(doy FROM local_change)::int - 1 AS day,
                 to_char(local_change, 'HH24:MI:SS') AS at FROM t) d
$fn$;
SELECT pg_temp.dst_zone(true) AS fall_back_zone, pg_temp.dst_zone(false) AS spring_forward_zone \gset

-- The reference: UTC.
CREATE TEMP TABLE observed AS SELECT 'UTC'::text AS zone, pg_temp.observe('UTC') AS o;

SELECT is((SELECT o->'find' FROM observed WHERE zone = 'UTC'),
          (SELECT jsonb_agg(jsonb_build_array(t, id, st, CASE n WHEN 1 THEN 45 WHEN 2 THEN 40 WHEN 6 THEN 1470 ELSE 1410 END,
                                              extract(epoch FROM s), extract(epoch FROM greatest(s, l)))
                            ORDER BY t, id)
           FROM (SELECT 'tz_app.prisma_runs' AS t, name AS id, status AS st, n,
                        ((now() AT TIME ZONE 'UTC') - started)::timestamp(3) AT TIME ZONE 'UTC' AS s,
                        ((now() AT TIME ZONE 'UTC') - active)::timestamp(3) AT TIME ZONE 'UTC' AS l FROM spec
                 UNION ALL
                 SELECT tab, n::text, lower(status), n, now() - started, now() - active
                 FROM spec, unnest(ARRAY['tz_app.tz_runs', 'tz_app.mixed_runs']) AS tab) x
           WHERE n IN (1, 2, 6, 7)),
          'UTC: the stuck runs of all three tables, their stuck_minutes and instants (Prisma times read as UTC)');
SELECT is((SELECT o->'find_1_day' FROM observed WHERE zone = 'UTC'),
          '[["tz_app.mixed_runs", "6", 1470], ["tz_app.prisma_runs", "day-plus", 1470], ["tz_app.tz_runs", "6", 1470]]'::jsonb,
          'UTC: with a 1 day timeout only the runs idle 24h30m are stuck, not those idle 23h30m');
SELECT is((SELECT jsonb_agg(x->1 ORDER BY x->>0, x->>1) FROM observed, jsonb_array_elements(o->'recover') x WHERE zone = 'UTC'),
          (SELECT jsonb_agg(x->1 ORDER BY x->>0, x->>1) FROM observed, jsonb_array_elements(o->'find') x WHERE zone = 'UTC'),
          'UTC: recover changes exactly the runs find reported');
SELECT is((SELECT o->'prisma_after' FROM observed WHERE zone = 'UTC'),
          (SELECT jsonb_agg(jsonb_build_array(name,
                                              CASE WHEN n IN (1, 2, 6, 7) THEN 'FAILED' ELSE status END,
                                              CASE WHEN n IN (1, 2, 6, 7) THEN (now() AT TIME ZONE 'UTC')::timestamp(3) END)
                            ORDER BY name) FROM spec),
          'UTC: Prisma runs are FAILED with completedAt = the recovery time as UTC wall clock');
SELECT is((SELECT o->'tz_after' FROM observed WHERE zone = 'UTC'),
          (SELECT jsonb_agg(jsonb_build_array(n,
                                              CASE WHEN n IN (1, 2, 6, 7) THEN 'failed' ELSE lower(status) END,
                                              CASE WHEN n IN (1, 2, 6, 7) THEN extract(epoch FROM now()) END)
                            ORDER BY n) FROM spec),
          'UTC: timestamptz runs are failed with finished_at = the recovery instant');
SELECT is((SELECT o->'mixed_after' FROM observed WHERE zone = 'UTC'),
          (SELECT jsonb_agg(jsonb_build_array(n,
                                              CASE WHEN n IN (1, 2, 6, 7) THEN 'failed' ELSE lower(status) END,
                                              CASE WHEN n IN (1, 2, 6, 7) THEN now() AT TIME ZONE 'UTC' END)
                            ORDER BY n) FROM spec),
          'UTC: mixed runs are failed with the plain finished_at = the recovery time as UTC wall clock');
SELECT is((SELECT jsonb_array_length(o->'history') FROM observed WHERE zone = 'UTC'), 12,
          'UTC: one history row per recovered run');
SELECT is((SELECT jsonb_agg(jsonb_build_array(x->0, x->1, x->4, x->5, x->6) ORDER BY x->>0, x->>1)
           FROM observed, jsonb_array_elements(o->'history') x WHERE zone = 'UTC'),
          (SELECT jsonb_agg(jsonb_build_array(x->0, x->1, x->3, x->4, x->5) ORDER BY x->>0, x->>1)
           FROM observed, jsonb_array_elements(o->'find') x WHERE zone = 'UTC'),
          'UTC: history holds the stuck_minutes, started and last activity instants find reported');

-- Every other zone: identical to UTC.
INSERT INTO observed
SELECT zone, pg_temp.observe(zone)
FROM unnest(ARRAY['America/New_York', 'Asia/Kolkata', 'Pacific/Chatham', 'Pacific/Kiritimati',
                  'Etc/GMT+12', 'Australia/Lord_Howe', :'fall_back_zone', :'spring_forward_zone']) AS zone;

SELECT is(o, (SELECT o FROM observed WHERE zone = 'UTC'),
          format('%s: find, recover, stored finished values and history identical to UTC',
                 CASE WHEN zone LIKE 'XST%' THEN 'fall-back zone ' || zone
                      WHEN zone LIKE 'YST%' THEN 'spring-forward zone ' || zone ELSE zone END))
FROM observed WHERE zone <> 'UTC' ORDER BY zone;

-- Per component, so a failure above says which part differs.
SELECT is((SELECT o->'find' FROM observed WHERE zone = 'America/New_York'),
          (SELECT o->'find' FROM observed WHERE zone = 'UTC'), 'America/New_York: find identical');
SELECT is((SELECT o->'recover' FROM observed WHERE zone = 'America/New_York'),
          (SELECT o->'recover' FROM observed WHERE zone = 'UTC'), 'America/New_York: recover identical');
SELECT is((SELECT o->'prisma_after' FROM observed WHERE zone = 'America/New_York'),
          (SELECT o->'prisma_after' FROM observed WHERE zone = 'UTC'), 'America/New_York: stored completedAt identical');
SELECT is((SELECT o->'mixed_after' FROM observed WHERE zone = 'America/New_York'),
          (SELECT o->'mixed_after' FROM observed WHERE zone = 'UTC'), 'America/New_York: stored plain finished_at identical');
SELECT is((SELECT o->'find' FROM observed WHERE zone = 'Asia/Kolkata'),
          (SELECT o->'find' FROM observed WHERE zone = 'UTC'), 'Asia/Kolkata: find identical');
SELECT is((SELECT o->'recover' FROM observed WHERE zone = 'Asia/Kolkata'),
          (SELECT o->'recover' FROM observed WHERE zone = 'UTC'), 'Asia/Kolkata: recover identical');
SELECT is((SELECT o->'prisma_after' FROM observed WHERE zone = 'Asia/Kolkata'),
          (SELECT o->'prisma_after' FROM observed WHERE zone = 'UTC'), 'Asia/Kolkata: stored completedAt identical');
SELECT is((SELECT o->'mixed_after' FROM observed WHERE zone = 'Asia/Kolkata'),
          (SELECT o->'mixed_after' FROM observed WHERE zone = 'UTC'), 'Asia/Kolkata: stored plain finished_at identical');

-- '1 day' is 24 hours, whatever the zone's calendar says.
SET LOCAL TimeZone = :'fall_back_zone';
SELECT is(now() - (now() - interval '1 day'), interval '25 hours',
          'precondition: in the fall-back zone, the calendar day before now had 25 hours');
SELECT results_eq(
    $$SELECT run_table, run_id, stuck_minutes FROM recovery.find_stuck_runs('1 day') ORDER BY 1, 2$$,
    $$VALUES ('tz_app.mixed_runs'::text, '6'::text, 1470), ('tz_app.prisma_runs', 'day-plus', 1470),
             ('tz_app.tz_runs', '6', 1470)$$,
    'fall-back zone: a run idle 24h30m is stuck with a 1 day timeout (24 hours, not the 25-hour calendar day)');
SELECT results_eq(
    $$SELECT run_id FROM recovery.find_stuck_runs('1 day') ORDER BY 1$$,
    $$SELECT run_id FROM recovery.find_stuck_runs('24 hours') ORDER BY 1$$,
    'fall-back zone: ''1 day'' finds what ''24 hours'' finds');
SET LOCAL TimeZone = :'spring_forward_zone';
SELECT is(now() - (now() - interval '1 day'), interval '23 hours',
          'precondition: in the spring-forward zone, the calendar day before now had 23 hours');
SELECT results_eq(
    $$SELECT run_table, run_id, stuck_minutes FROM recovery.find_stuck_runs('1 day') ORDER BY 1, 2$$,
    $$VALUES ('tz_app.mixed_runs'::text, '6'::text, 1470), ('tz_app.prisma_runs', 'day-plus', 1470),
             ('tz_app.tz_runs', '6', 1470)$$,
    'spring-forward zone: a run idle 23h30m is not stuck with a 1 day timeout (24 hours, not the 23-hour calendar day)');
SELECT results_eq(
    $$SELECT run_id FROM recovery.find_stuck_runs('1 day') ORDER BY 1$$,
    $$SELECT run_id FROM recovery.find_stuck_runs('1440 minutes') ORDER BY 1$$,
    'spring-forward zone: ''1 day'' finds what ''1440 minutes'' finds');
SET LOCAL TimeZone = 'America/New_York';
SELECT results_eq(
    $$SELECT run_id FROM recovery.find_stuck_runs('1 day') ORDER BY 1$$,
    $$SELECT run_id FROM recovery.find_stuck_runs('86400 seconds') ORDER BY 1$$,
    'America/New_York: ''1 day'' finds what ''86400 seconds'' finds');

-- The Prisma row's plain times come back as UTC instants ending in Z (as
-- JavaScript's toISOString() prints them), in any zone; started_at is that UTC time.
SELECT is((SELECT run->'createdAt' FROM recovery.find_stuck_runs('30 minutes', 'tz_app.prisma_runs')
           WHERE run_id = 'stuck-45'),
          (SELECT to_jsonb(to_char("createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) FROM tz_app.prisma_runs WHERE id = 'stuck-45'),
          'America/New_York: the Prisma row''s createdAt is reported as a UTC instant with Z');
SELECT is((SELECT started_at FROM recovery.find_stuck_runs('30 minutes', 'tz_app.prisma_runs')
           WHERE run_id = 'stuck-45'),
          (SELECT "createdAt" AT TIME ZONE 'UTC' FROM tz_app.prisma_runs WHERE id = 'stuck-45'),
          'America/New_York: a Prisma started_at is its createdAt read as UTC');

-- Recover for real under Asia/Kolkata: the stored values are UTC wall clock / the instant.
SET LOCAL TimeZone = 'Asia/Kolkata';
SELECT is((SELECT count(*)::int FROM recovery.recover_stuck_runs('30 minutes')), 12,
          'Asia/Kolkata: twelve runs recovered');
SELECT is((SELECT array_agg(DISTINCT "completedAt") FROM tz_app.prisma_runs WHERE status = 'FAILED'),
          ARRAY[(now() AT TIME ZONE 'UTC')::timestamp(3)],
          'Asia/Kolkata: completedAt is UTC wall clock, not Kolkata time');
SELECT is((SELECT array_agg(DISTINCT finished_at) FROM tz_app.mixed_runs WHERE status = 'failed'),
          ARRAY[now() AT TIME ZONE 'UTC'],
          'Asia/Kolkata: a plain finished_at is UTC wall clock');
SELECT is((SELECT array_agg(DISTINCT finished_at) FROM tz_app.tz_runs WHERE status = 'failed'),
          ARRAY[now()], 'Asia/Kolkata: a timestamptz finished_at is the recovery instant');
SELECT is((SELECT count(*)::int FROM tz_app.prisma_runs WHERE status IN ('PENDING', 'PROCESSING')
                                                      AND "completedAt" IS NULL), 3,
          'Asia/Kolkata: the three live Prisma runs (alive, young, late-start) are untouched');

------------------------------------------------------------------------------
-- The run as jsonb: every timestamp is a UTC instant ending in Z, whatever the
-- column type or the session's TimeZone (the Prisma, Django and mixed shapes).
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.instants(t regclass) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(f.run_id || ' ' || coalesce(f.run->>'createdAt', '') || coalesce(f.run->>'created_at', '')
                      || coalesce(f.run->>'started_at', '') || ' ' || coalesce(f.run->>'updatedAt', f.run->>'updated_at', f.run->>'heartbeat_at', ''),
                      ', ' ORDER BY f.run_id)
    FROM recovery.find_stuck_runs('0.001 seconds', t) AS f $$;
CREATE TEMP TABLE instants_by_zone (zone text, prisma text, django text, mixed text);
DO $$
DECLARE z text;
BEGIN
    UPDATE tz_app.prisma_runs SET status = 'PROCESSING' WHERE id = 'stuck-45';
    FOREACH z IN ARRAY ARRAY['UTC', 'America/New_York', 'Asia/Kolkata'] LOOP
        PERFORM set_config('TimeZone', z, true);
        INSERT INTO instants_by_zone SELECT z, pg_temp.instants('tz_app.prisma_runs'),
            pg_temp.instants('tz_app.tz_runs'), pg_temp.instants('tz_app.mixed_runs');
    END LOOP;
END $$;
SELECT is((SELECT count(DISTINCT (prisma, django, mixed)) FROM instants_by_zone), 1::bigint,
          'run jsonb: the same instants under UTC, America/New_York and Asia/Kolkata');
SELECT ok((SELECT bool_and(x ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
           FROM tz_app.prisma_runs p, recovery.find_stuck_runs('0.001 seconds', 'tz_app.prisma_runs') f,
                LATERAL (VALUES (f.run->>'createdAt')) v(x) WHERE f.run_id = p.id),
          'run jsonb: toISOString format (milliseconds, Z)');
SELECT is((SELECT f.run->>'created_at' FROM recovery.find_stuck_runs('0.001 seconds', 'tz_app.tz_runs') f WHERE f.run_id = '3'),
          (SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM tz_app.tz_runs WHERE id = 3),
          'run jsonb: a timestamptz (Django) column is its UTC instant');
RESET TimeZone;

------------------------------------------------------------------------------
-- time_zone: a TypeORM/Drizzle-style table whose plain timestamps default to
-- now() on a server in America/New_York hold New York wall-clock time.
------------------------------------------------------------------------------
-- What new sessions get (rolled back with the test).
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET TimeZone = %L', current_database(), 'America/New_York'); END $$;
CREATE TABLE tz_app.typeorm_runs (
    id          integer PRIMARY KEY,
    status      text NOT NULL,
    created_at  timestamp NOT NULL DEFAULT now(),
    updated_at  timestamp NOT NULL DEFAULT now(),
    finished_at timestamp
);
SELECT throws_ok($$SELECT recovery.watch('tz_app.typeorm_runs', active_statuses => '{running}', failed_status => 'failed')$$,
                 '22023', 'column "created_at" of table tz_app.typeorm_runs defaults to the current time as wall-clock time in TimeZone "America/New_York"',
                 'watch() refuses the ambiguous case: a plain column defaulting to now() on a server not in UTC');
SELECT throws_ok($$SELECT recovery.watch('tz_app.typeorm_runs', active_statuses => '{running}', failed_status => 'failed', time_zone => 'Mars/Olympus')$$,
                 '22023', 'unknown time zone "Mars/Olympus"', 'an unknown zone is refused');
SELECT ok(recovery.watch('tz_app.typeorm_runs', active_statuses => '{running}', failed_status => 'failed',
                         time_zone => 'America/New_York'), 'with time_zone => ''America/New_York'' it is watched');
SELECT is(recovery.watch('tz_app.typeorm_runs', active_statuses => '{running}', failed_status => 'failed'), false,
          're-watching without time_zone is accepted');
SELECT is((SELECT time_zone FROM recovery.watched_tables WHERE run_table = 'tz_app.typeorm_runs'::regclass),
          'America/New_York', 're-watching keeps the zone');
-- The app's own sessions, in New York, insert a live run and one idle for 2 hours.
SET LOCAL TimeZone = 'America/New_York';
INSERT INTO tz_app.typeorm_runs (id, status) VALUES (1, 'running');
INSERT INTO tz_app.typeorm_runs (id, status, created_at, updated_at)
    VALUES (2, 'running', now() - interval '2 hours', now() - interval '2 hours');
CREATE TEMP TABLE typeorm_by_zone (zone text, found text, minutes integer, created text);
DO $$
DECLARE z text;
BEGIN
    FOREACH z IN ARRAY ARRAY['UTC', 'America/New_York', 'Asia/Kolkata'] LOOP
        PERFORM set_config('TimeZone', z, true);
        INSERT INTO typeorm_by_zone
        SELECT z, string_agg(run_id, ','), max(stuck_minutes), max(run->>'created_at')
        FROM recovery.find_stuck_runs('30 minutes', 'tz_app.typeorm_runs');
    END LOOP;
END $$;
SELECT results_eq($$SELECT DISTINCT found, minutes FROM typeorm_by_zone$$, $$VALUES ('2', 120)$$,
                  'time_zone: the idle run is stuck for 120 minutes and the live one is not, in every session zone');
SELECT is((SELECT DISTINCT created FROM typeorm_by_zone),
          to_char((now() - interval '2 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'time_zone: its created_at is reported as the true UTC instant');
SET LOCAL TimeZone = 'Asia/Kolkata';
SELECT is((SELECT string_agg(run_id, ',') FROM recovery.recover_stuck_runs('30 minutes', run_table => 'tz_app.typeorm_runs')),
          '2', 'time_zone: recover fails the idle run only');
SELECT is((SELECT finished_at FROM tz_app.typeorm_runs WHERE id = 2), (now() AT TIME ZONE 'America/New_York')::timestamp,
          'time_zone: the finished column is written as New York wall-clock time');
SELECT is((SELECT started_at FROM recovery.history WHERE run_table = 'tz_app.typeorm_runs'),
          now() - interval '2 hours', 'time_zone: history records the true instant it started');
-- Rails: timestamp(6) columns the app fills with UTC itself (no default): no refusal.
CREATE TABLE tz_app.rails_runs (id bigint PRIMARY KEY, status varchar NOT NULL,
                                created_at timestamp(6) NOT NULL, updated_at timestamp(6) NOT NULL);
SELECT ok(recovery.watch('tz_app.rails_runs', active_statuses => '{running}', failed_status => 'failed'),
          'Rails shape (UTC written by the app, no default): watched as UTC');
RESET TimeZone;

SELECT * FROM finish();
ROLLBACK;
