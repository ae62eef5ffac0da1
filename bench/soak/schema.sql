-- Soak test set-up (test/soak/201_soak.pl), run after demo/seed-schema.sql,
-- CREATE EXTENSION recovery and recovery.watch('qualification_runs').
--
-- Two watched tables, two kinds of app:
--   A  qualification_runs: the seed (enum "RunStatus", camelCase, timestamp(3) UTC);
--      recovered by the pgbench recoverers at '3 seconds' and by the worker.
--   B  app_jobs: snake_case, text states queued/running/done/error, failed
--      status 'dead', timestamptz, bigint ids, hash-partitioned. Its app
--      writes every time 55 s in the past, so with recovery.timeout = 1min
--      the worker (and recover_stuck_runs('1 minute')) treat a job as stuck
--      after 5 s of real idleness.
--
-- soak.app_runs is the app's own view of each of its runs, written by the app
-- in the same transaction as the run itself. soak.transitions is written by a
-- trigger on both tables: every INSERT/UPDATE with who made it.
-- soak.incarnations is the app instances' own record (201_soak.pl drives
-- them through PgBouncer): each incarnation, its heartbeats and its end,
-- written in the same statement as the instance call.

CREATE TABLE app_jobs (
    job_id       bigint      NOT NULL,
    state        text        NOT NULL,
    progress     integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    heartbeat_at timestamptz,
    finished_at  timestamptz,
    PRIMARY KEY (job_id)
) PARTITION BY HASH (job_id);
CREATE TABLE app_jobs_0 PARTITION OF app_jobs FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE app_jobs_1 PARTITION OF app_jobs FOR VALUES WITH (MODULUS 2, REMAINDER 1);
SELECT recovery.watch('app_jobs', status_column => 'state',
                      active_statuses => '{queued,running}', failed_status => 'dead');

CREATE SCHEMA soak;
CREATE SEQUENCE soak.run_seq;
CREATE SEQUENCE soak.prospect_seq;

CREATE TABLE soak.app_runs (
    n          bigint      PRIMARY KEY,   -- run id: 'A<n>' in A, <n> in B
    tbl        text        NOT NULL,      -- 'A' or 'B'
    client     integer     NOT NULL,      -- pgbench client (-1: the crashed app's backlog,
                                          -- 100 + slot: an app instance's run)
    state      text        NOT NULL,      -- live | finished | abandoned | lost
    progress   integer     NOT NULL,      -- the app's last progress write
    activity   timestamptz NOT NULL,      -- the activity time the app last wrote
    status     text        NOT NULL,      -- the status the app last wrote
    finished   timestamptz,               -- the finished time the app wrote
    changed_at timestamptz NOT NULL,
    incarnation text,                     -- an app instance's run: soak.incarnations.label
    claimed    boolean                    -- what its claim with the token returned
);
CREATE INDEX ON soak.app_runs (client, tbl, state);

CREATE TABLE soak.incarnations (
    label       text        PRIMARY KEY,  -- i<slot>.<n>: the slot's n-th incarnation
    name        text        NOT NULL,     -- the instance name given to instance_start
    slot        integer     NOT NULL,
    token       text        NOT NULL,
    lease       interval    NOT NULL,
    started_at  timestamptz NOT NULL,     -- the instance_start statement's start
    last_beat   timestamptz NOT NULL,     -- the start of the last heartbeat that said true
    beats       integer     NOT NULL DEFAULT 0,
    false_beats integer     NOT NULL DEFAULT 0,
    fate        text,                     -- NULL: alive to the end; gone | restarted | stopped
    died_at     timestamptz,              -- gone: last_beat + lease; else the ending statement's start
    stop_claims integer                   -- what instance_stop returned
);
-- Each instance run with its incarnation and the reason its recovery must give.
CREATE VIEW soak.instance_runs AS
SELECT 'A' || a.n AS run_id, a.n, a.state, a.claimed, i.label, i.fate, i.died_at,
       CASE i.fate WHEN 'gone' THEN 'instance_gone' WHEN 'restarted' THEN 'instance_restarted'
                   WHEN 'stopped' THEN 'instance_stopped' END AS reason
FROM soak.app_runs a JOIN soak.incarnations i ON i.label = a.incarnation;

CREATE TABLE soak.transitions (
    id             bigserial   PRIMARY KEY,
    tbl            text        NOT NULL,
    run_id         text        NOT NULL,
    op             text        NOT NULL,
    old_status     text,
    new_status     text,
    old_progress   integer,
    new_progress   integer,
    old_activity   timestamptz,   -- last activity as recovery computes it (UTC for A)
    new_activity   timestamptz,
    old_finished   timestamptz,
    new_finished   timestamptz,
    others_changed boolean,       -- any column but status and finished changed
    app            text        NOT NULL DEFAULT current_setting('application_name'),
    role           name        NOT NULL DEFAULT current_user,
    at             timestamptz NOT NULL DEFAULT now(),   -- the writer's transaction start
    clock          timestamptz NOT NULL DEFAULT clock_timestamp(),   -- the write itself
    xid            xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX ON soak.transitions (tbl, run_id);

CREATE FUNCTION soak.log_a() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO soak.transitions (tbl, run_id, op, old_status, new_status, old_progress,
        new_progress, old_activity, new_activity, old_finished, new_finished, others_changed)
    VALUES ('A', NEW.id, TG_OP,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.status::text END, NEW.status::text,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.completed END, NEW.completed,
        CASE WHEN TG_OP = 'UPDATE' THEN GREATEST(OLD."createdAt", OLD."updatedAt") AT TIME ZONE 'UTC' END,
        GREATEST(NEW."createdAt", NEW."updatedAt") AT TIME ZONE 'UTC',
        CASE WHEN TG_OP = 'UPDATE' THEN OLD."completedAt" AT TIME ZONE 'UTC' END,
        NEW."completedAt" AT TIME ZONE 'UTC',
        CASE WHEN TG_OP = 'UPDATE' THEN
            (to_jsonb(OLD) - '{status,completedAt}'::text[]) IS DISTINCT FROM
            (to_jsonb(NEW) - '{status,completedAt}'::text[]) END);
    RETURN NULL;
END $$;
CREATE TRIGGER soak_log AFTER INSERT OR UPDATE ON qualification_runs
    FOR EACH ROW EXECUTE FUNCTION soak.log_a();

CREATE FUNCTION soak.log_b() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO soak.transitions (tbl, run_id, op, old_status, new_status, old_progress,
        new_progress, old_activity, new_activity, old_finished, new_finished, others_changed)
    VALUES ('B', NEW.job_id::text, TG_OP,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, NEW.state,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.progress END, NEW.progress,
        CASE WHEN TG_OP = 'UPDATE' THEN GREATEST(OLD.created_at, OLD.heartbeat_at) END,
        GREATEST(NEW.created_at, NEW.heartbeat_at),
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.finished_at END, NEW.finished_at,
        CASE WHEN TG_OP = 'UPDATE' THEN
            (to_jsonb(OLD) - '{state,finished_at}'::text[]) IS DISTINCT FROM
            (to_jsonb(NEW) - '{state,finished_at}'::text[]) END);
    RETURN NULL;
END $$;
CREATE TRIGGER soak_log AFTER INSERT OR UPDATE ON app_jobs
    FOR EACH ROW EXECUTE FUNCTION soak.log_b();

-- The crashed app's backlog, :backlog runs per table, stuck for hours.
SET application_name = 'soak-setup';
INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt")
SELECT 'A' || n, 'icp1', (CASE WHEN n % 3 = 0 THEN 'PENDING' ELSE 'PROCESSING' END)::"RunStatus",
       100, n % 50, (now() AT TIME ZONE 'UTC') - interval '3 hours',
       (now() AT TIME ZONE 'UTC') - interval '2 hours' + make_interval(secs => n)
FROM (SELECT nextval('soak.run_seq') AS n FROM generate_series(1, :backlog)) s;
INSERT INTO app_jobs (job_id, state, progress, created_at, heartbeat_at)
SELECT n, CASE WHEN n % 3 = 0 THEN 'queued' ELSE 'running' END, n % 50,
       now() - interval '3 hours', now() - interval '2 hours' + make_interval(secs => n)
FROM (SELECT nextval('soak.run_seq') AS n FROM generate_series(1, :backlog)) s;
INSERT INTO soak.app_runs
SELECT substr(t.run_id, CASE WHEN t.tbl = 'A' THEN 2 ELSE 1 END)::bigint, t.tbl, -1, 'abandoned',
       t.new_progress, t.new_activity, t.new_status, NULL, now()
FROM soak.transitions t;
-- app_runs.activity holds the raw activity column: the transitions above hold
-- GREATEST(started, activity), which is the activity column here.
RESET application_name;
