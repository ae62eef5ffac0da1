// The same calls through plain node-postgres (no Prisma), as the README shows them.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, LIVE, seed, statuses, STUCK_AT_30, type TestDatabase } from './helpers/db.ts';

let db: TestDatabase;
let pool: pg.Pool;

before(async () => {
  db = await createTestDatabase('node_postgres');
  pool = db.pool;
});
after(async () => {
  await db.drop();
});
beforeEach(async () => {
  await seed(db.pool);
});

test('find_stuck_runs: timestamptz as Date, integer as number, jsonb parsed', async () => {
  const { rows } = await pool.query('SELECT * FROM recovery.find_stuck_runs(make_interval(mins => $1::int))', [30]);
  assert.deepEqual(rows.map((r) => r.run_id), [STUCK_AT_30[1], STUCK_AT_30[0]]);
  const [pending, processing] = rows;
  assert.equal(pending.run_table, 'public.qualification_runs');
  assert.equal(pending.status, 'PENDING');
  assert.ok(pending.started_at instanceof Date);
  assert.ok(Math.abs(Date.now() - pending.started_at.getTime() - 120 * 60_000) < 60_000, 'started 2 hours ago, read as UTC');
  assert.equal(typeof processing.stuck_minutes, 'number');
  assert.ok(processing.stuck_minutes >= 45 && processing.stuck_minutes <= 46);
  assert.equal(processing.reason, 'timeout');
  assert.equal(processing.run.completed, 3);
  assert.equal(processing.run.totalProspects, 10);
  assert.equal(typeof processing.run.createdAt, 'string', 'inside jsonb a timestamp(3) is text without a zone');
});

test('stuck_runs_report: the GET body, count a number', async () => {
  const { rows } = await pool.query('SELECT recovery.stuck_runs_report(make_interval(mins => $1::int)) AS body', [30]);
  const body = rows[0].body;
  assert.equal(body.success, true);
  assert.equal(body.count, 2);
  assert.equal(typeof body.count, 'number');
  assert.deepEqual(body.runs.map((r: any) => r.id), [STUCK_AT_30[1], STUCK_AT_30[0]]);
  assert.equal(typeof body.runs[0].stuckFor, 'number');
  assert.deepEqual(await statuses(pool), {
    ...Object.fromEntries(STUCK_AT_30.map((id, i) => [id, i === 0 ? 'PROCESSING' : 'PENDING'])),
    [LIVE]: 'PROCESSING',
    cmgz3z0aa0001on6tb8n4v6w1: 'COMPLETED',
  });
});

test('recover_stuck_runs and recover_stuck_runs_report recover the right runs, once', async () => {
  const { rows } = await pool.query(
    `SELECT run_id, previous_status, new_status, recovered_at, run
     FROM recovery.recover_stuck_runs(make_interval(mins => $1::int), max_runs => $2::int)`,
    [30, 1],
  );
  assert.equal(rows.length, 1, 'max_runs caps one call');
  assert.equal(rows[0].run_id, STUCK_AT_30[1], 'oldest first');
  assert.equal(rows[0].new_status, 'FAILED');
  assert.equal(rows[0].run.status, 'FAILED');
  assert.ok(rows[0].recovered_at instanceof Date);

  const report = (await pool.query('SELECT recovery.recover_stuck_runs_report(make_interval(mins => $1::int)) AS body', [30])).rows[0].body;
  assert.equal(report.message, 'Recovered 1 stuck runs');
  assert.equal(report.recovered, 1);
  assert.equal(report.runs[0].id, STUCK_AT_30[0]);
  const now = await statuses(pool);
  assert.equal(now[STUCK_AT_30[0]], 'FAILED');
  assert.equal(now[STUCK_AT_30[1]], 'FAILED');
  assert.equal(now[LIVE], 'PROCESSING');

  // history: one row per run; its bigint id comes back as a string (node-postgres' int8 default)
  const history = await pool.query(
    `SELECT id, run_id, previous_status, new_status, application_name FROM recovery.history ORDER BY id`,
  );
  assert.equal(history.rows.length, 2);
  assert.equal(typeof history.rows[0].id, 'string');
  assert.deepEqual(history.rows.map((h) => h.run_id), [STUCK_AT_30[1], STUCK_AT_30[0]]);
});

test('LISTEN recovery with a plain client receives the README payload', async () => {
  const client = new pg.Client();
  await client.connect();
  try {
    await client.query('LISTEN recovery');
    const received: any[] = [];
    const got = new Promise<void>((resolve) => {
      client.on('notification', (m) => {
        received.push({ channel: m.channel, ...JSON.parse(m.payload ?? '{}') });
        if (received.length === 2) resolve();
      });
    });
    await pool.query('SELECT * FROM recovery.recover_stuck_runs(make_interval(mins => $1::int))', [30]);
    await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error('no NOTIFY in 5 s')), 5000))]);
    assert.deepEqual(
      received.sort((a, b) => a.run_id.localeCompare(b.run_id)),
      [...STUCK_AT_30].sort().map((id) => ({
        channel: 'recovery',
        run_table: 'public.qualification_runs',
        run_id: id,
        previous_status: id === STUCK_AT_30[0] ? 'PROCESSING' : 'PENDING',
        new_status: 'FAILED',
      })),
    );
  } finally {
    await client.end();
  }
});

test('a bad timeout is an SQL error, not a silent default', async () => {
  await assert.rejects(
    pool.query('SELECT * FROM recovery.find_stuck_runs(make_interval(mins => $1::int))', ['soon']),
    /invalid input syntax for type integer/,
  );
});
