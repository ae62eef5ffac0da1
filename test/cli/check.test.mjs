// --check-only (and --json, --timeout): lists what is stuck, changes nothing.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { createDatabase, dropDatabase, LIVE, psql, run, seed, statuses, STUCK_120, STUCK_45 } from './helpers.mjs';

let db;
before(() => {
  db = createDatabase('check');
  psql(db, `SELECT recovery.watch('qualification_runs')`);
});
after(() => dropDatabase(db));
beforeEach(() => seed(db));

test('lists the stuck runs like the seed tool, oldest first, exit 1, nothing changed', () => {
  const before = statuses(db);
  const r = run(db, ['--check-only']);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, '');
  const created = psql(db, `SELECT to_char("createdAt", 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM qualification_runs WHERE id = '${STUCK_45}'`);
  const expected45 = [
    `2. Run ID: ${STUCK_45}`,
    '   Table: public.qualification_runs',
    '   Status: PROCESSING',
    '   Progress: 3/10',
    `   Created: ${created}`,
  ].join('\n');
  assert.ok(r.stdout.startsWith('⚠️  Found 2 stuck run(s) (no activity for 30 minutes):\n\n1. Run ID: ' + STUCK_120 + '\n'), r.stdout);
  assert.ok(r.stdout.includes(expected45), r.stdout);
  assert.match(r.stdout, /Progress: 0\/5\n/);
  assert.match(r.stdout, /Stuck for: 12[01] minutes\n/);
  assert.match(r.stdout, /Stuck for: 4[56] minutes\n/);
  assert.match(r.stdout, /Run without --check-only to mark them as failed\.\n$/);
  assert.ok(!r.stdout.includes(LIVE));
  assert.ok(!r.stdout.includes('→'));
  assert.deepEqual(statuses(db), before);
  assert.equal(psql(db, 'SELECT count(*) FROM recovery.history'), '0');
});

test('--timeout=60 and --timeout 60', () => {
  for (const args of [['--timeout=60'], ['--timeout', '60']]) {
    const r = run(db, ['--check-only', ...args]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^⚠️  Found 1 stuck run\(s\) \(no activity for 60 minutes\):/);
    assert.ok(r.stdout.includes(STUCK_120));
    assert.ok(!r.stdout.includes(STUCK_45));
  }
});

test('nothing stuck: exit 0', () => {
  const r = run(db, ['--check-only', '--timeout=500']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '✅ No stuck runs found (no activity for 500 minutes).\n');
  assert.equal(run(db, ['--check-only', '--timeout=1']).status, 1, 'the live run, a minute idle, is stuck for 1 minute');
});

test('--json prints the GET body', () => {
  const r = run(db, ['--check-only', '--json']);
  assert.equal(r.status, 1, r.stderr);
  const body = JSON.parse(r.stdout);
  assert.equal(body.success, true);
  assert.equal(body.count, 2);
  assert.deepEqual(body.runs.map((x) => x.id), [STUCK_120, STUCK_45]);
  assert.equal(body.runs[1].completed, 3);
  assert.equal(body.runs[1].totalProspects, 10);
  assert.equal(typeof body.runs[1].stuckFor, 'number');
  assert.equal(r.stdout.trim().split('\n').length, 1, 'one line, for jq and friends');

  const none = run(db, ['--check-only', '--json', '--timeout=500']);
  assert.equal(none.status, 0);
  assert.deepEqual(JSON.parse(none.stdout), { success: true, count: 0, runs: [] });
  assert.equal(psql(db, 'SELECT count(*) FROM recovery.history'), '0');
});

test('a run id with a tab, a quote and a newline is printed whole', () => {
  psql(db, `INSERT INTO qualification_runs (id, "icpId", status, "createdAt") VALUES (E'odd\\tid''s\\nhere', 'icp1', 'PENDING', (now() AT TIME ZONE 'UTC') - interval '10 hours')`);
  const r = run(db, ['--check-only']);
  assert.equal(r.status, 1);
  assert.ok(r.stdout.includes("1. Run ID: odd\tid's\nhere\n   Table: public.qualification_runs"), r.stdout);
  assert.match(r.stdout, /Found 3 stuck run/);
});
