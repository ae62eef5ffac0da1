-- Time zones: the messages users see (pgTAP 03 checks the instants).
SET client_min_messages = notice;
CREATE SCHEMA tz;
-- A table registered as UTC whose app writes Kolkata wall-clock time: its
-- fresh runs look 5.5 hours in the future. Never stuck, and one WARNING.
CREATE TABLE tz.east_runs (id int PRIMARY KEY, status text NOT NULL, created_at timestamp NOT NULL);
SELECT recovery.watch('tz.east_runs', active_statuses => '{running}', failed_status => 'failed', create_index => true);
INSERT INTO tz.east_runs VALUES (1, 'running', now() AT TIME ZONE 'Asia/Kolkata'),
                                (2, 'running', (now() AT TIME ZONE 'UTC') - interval '2 hours');
SELECT run_id, stuck_minutes FROM recovery.find_stuck_runs('30 minutes', 'tz.east_runs');
SELECT run_id FROM recovery.recover_stuck_runs('30 minutes', run_table => 'tz.east_runs');
-- Registered with its zone, the fresh run is fresh and nothing warns.
SELECT recovery.watch('tz.east_runs', active_statuses => '{running}', failed_status => 'failed',
                      time_zone => 'Asia/Kolkata', create_index => true);
SELECT count(*) AS stuck FROM recovery.find_stuck_runs('30 minutes', 'tz.east_runs');
-- The index advice follows the zone where kinds are mixed.
CREATE TABLE tz.mixed (id int PRIMARY KEY, status text NOT NULL, created_at timestamp NOT NULL,
                       heartbeat_at timestamptz);
SELECT recovery.watch('tz.mixed', active_statuses => '{running}', failed_status => 'failed',
                      time_zone => 'America/New_York');
SELECT recovery.index_advice('tz.mixed');
-- The ambiguous case, with its hint.
SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET TimeZone = 'America/New_York';
CREATE TABLE tz.typeorm (id int PRIMARY KEY, status text NOT NULL, created_at timestamp NOT NULL DEFAULT now());
SELECT * FROM test.try($$SELECT recovery.watch('tz.typeorm', active_statuses => '{running}', failed_status => 'failed')$$);
SELECT * FROM test.try($$SELECT recovery.watch('tz.typeorm', active_statuses => '{running}', failed_status => 'failed', time_zone => 'Mars/Olympus')$$);
SELECT recovery.watch('tz.typeorm', active_statuses => '{running}', failed_status => 'failed', time_zone => 'America/New_York', create_index => true);
ALTER DATABASE :"db" RESET TimeZone;
-- schedule() refuses what the engine refuses, before looking for pg_cron.
SELECT * FROM test.try($$SELECT recovery.schedule('* * * * *', '-1 year 361 days')$$);
DROP SCHEMA tz CASCADE;
