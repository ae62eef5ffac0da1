// Recovery (the default), --json, --table: marks stuck runs failed, exit 1; again, exit 0.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { createDatabase, DONE, dropDatabase, LIVE, psql, run, seed, statuses, STUCK_120, STUCK_45 } from './helpers.mjs';

let db;
before(() => {
  db = createDatabase('recover');
  psql(db, `SELECT recovery.watch('qualification_runs')`);
  // a second app's table: snake_case, text statuses in its own words, no progress columns
  psql(db, `CREATE TABLE app_jobs (id bigint PRIMARY KEY, state text NOT NULL, created_at timestamptz NOT NULL);
            SELECT recovery.watch('app_jobs', status_column => 'state',
                                  active_statuses => '{queued,running}', failed_status => 'dead');`);
});
after(() => dropDatabase(db));
beforeEach(() => {
  seed(db);
  psql(db, `TRUNCATE app_jobs; INSERT INTO app_jobs VALUES (7, 'running', now() - interval '50 minutes')`);
});

test('recovers every watched table, prints the transitions, exit 1', () => {
  const r = run(db);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^✅ Recovered 3 stuck run\(s\):\n/);
  assert.ok(r.stdout.includes(`Run ID: ${STUCK_120}\n   Table: public.qualification_runs\n   Status: PENDING → FAILED\n   Progress: 0/5\n`), r.stdout);
  assert.ok(r.stdout.includes(`Run ID: ${STUCK_45}\n   Table: public.qualification_runs\n   Status: PROCESSING → FAILED\n   Progress: 3/10\n`), r.stdout);
  // no progress line for a table without such columns
  assert.match(r.stdout, /Run ID: 7\n   Table: public\.app_jobs\n   Status: running → dead\n   Created: \S+Z\n   Stuck for: 5[01] minutes\n/);
  assert.match(r.stdout, /\nAll stuck runs have been marked as failed ✅\n$/);

  const now = statuses(db);
  assert.equal(now[STUCK_45], 'FAILED');
  assert.equal(now[STUCK_120], 'FAILED');
  assert.equal(now[LIVE], 'PROCESSING');
  assert.equal(now[DONE], 'COMPLETED');
  assert.equal(psql(db, 'SELECT state FROM app_jobs'), 'dead');
  assert.equal(psql(db, `SELECT count(*) FROM qualification_runs WHERE status = 'FAILED' AND "completedAt" IS NOT NULL`), '2');
  assert.equal(
    psql(db, `SELECT string_agg(DISTINCT application_name, ',') || ':' || count(*) FROM recovery.history`),
    'recover-stuck-runs:3',
    'history names the tool',
  );

  const again = run(db);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, '✅ No stuck runs found (no activity for 30 minutes).\n');
});

test('--table=NAME recovers one table only; one failed status is named', () => {
  const r = run(db, ['--table=qualification_runs']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^✅ Recovered 2 stuck run\(s\):/);
  assert.match(r.stdout, /All stuck runs have been marked as FAILED ✅\n$/);
  assert.equal(psql(db, 'SELECT state FROM app_jobs'), 'running');

  const other = run(db, ['--table', 'public.app_jobs', '--check-only']);
  assert.equal(other.status, 1);
  assert.match(other.stdout, /Found 1 stuck run/);
});

test('--timeout=60 leaves runs stuck for less', () => {
  const r = run(db, ['--timeout=60']);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^✅ Recovered 1 stuck run\(s\):/);
  assert.equal(statuses(db)[STUCK_45], 'PROCESSING');
  assert.equal(statuses(db)[STUCK_120], 'FAILED');
});

test('--json prints the POST body', () => {
  const r = run(db, ['--json', '--table=qualification_runs']);
  assert.equal(r.status, 1, r.stderr);
  const body = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(body).sort(), ['message', 'recovered', 'runs', 'success']);
  assert.equal(body.message, 'Recovered 2 stuck runs');
  assert.equal(body.recovered, 2);
  assert.deepEqual(body.runs.map((x) => x.status), ['FAILED', 'FAILED']);
  assert.deepEqual(body.runs.map((x) => x.id).sort(), [STUCK_45, STUCK_120].sort());

  const again = run(db, ['--json', '--table=qualification_runs']);
  assert.equal(again.status, 0);
  assert.deepEqual(JSON.parse(again.stdout), { success: true, message: 'Recovered 0 stuck runs', recovered: 0, runs: [] });
});

test('--table naming a missing table is an SQL error: exit 2, nothing changed', () => {
  const before = statuses(db);
  const r = run(db, ['--table=no_such_table']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^recover-stuck-runs: ERROR: +relation "no_such_table" does not exist/);
  assert.deepEqual(statuses(db), before);
});

test('--table naming a table that is not watched: exit 2 with the hint', () => {
  psql(db, 'CREATE TABLE IF NOT EXISTS not_watched (id int PRIMARY KEY)');
  const r = run(db, ['--check-only', '--table=not_watched']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /ERROR: +table public\.not_watched is not watched by recovery/);
  assert.match(r.stderr, /HINT: +Register it first/);
});

test('a table name is a value, never SQL', () => {
  const r = run(db, ["--table=qualification_runs'); UPDATE qualification_runs SET status = 'FAILED'; --"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /ERROR/);
  assert.equal(statuses(db)[LIVE], 'PROCESSING');
});

test('a recovery blocked by permissions is an SQL error: exit 2, nothing changed', () => {
  psql(db, `DROP ROLE IF EXISTS cli_reader; CREATE ROLE cli_reader LOGIN PASSWORD 'reader';
            GRANT SELECT ON qualification_runs, app_jobs TO cli_reader;`);
  try {
    const before = statuses(db);
    const reader = ['-U', 'cli_reader', '--table=qualification_runs'];
    const check = run(db, ['--check-only', ...reader], { PGPASSWORD: 'reader' });
    assert.equal(check.status, 1, check.stderr);
    const r = run(db, reader, { PGPASSWORD: 'reader' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /permission denied/);
    assert.deepEqual(statuses(db), before);
    // Without --table, a role that lacks the owner's privileges covers no
    // table of that owner: nothing found, and the NOTICE says why.
    const all = run(db, ['--check-only', '-U', 'cli_reader'], { PGPASSWORD: 'reader' });
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stderr, /watched table\(s\) left out: their owners' privileges are not yours/);
    assert.equal(psql(db, 'SELECT state FROM app_jobs'), 'running', 'nothing changed');
  } finally {
    psql(db, `REVOKE ALL ON qualification_runs, app_jobs FROM cli_reader; DROP ROLE cli_reader;`);
  }
});
