// The route handlers, called with real Request objects against a real database.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { GET, POST } from '../src/app/api/qualify/recovery/route.ts';
import { getPrisma } from '../src/lib/prisma.ts';
import { useTestDatabase, DONE, LIVE, seed, statuses, STUCK_AT_30 } from './helpers/db.ts';

const URL_BASE = 'http://localhost:3000/api/qualify/recovery';
const db = useTestDatabase('routes');

function post(body?: string, headers: Record<string, string> = { 'Content-Type': 'application/json' }): Request {
  return new Request(URL_BASE, { method: 'POST', headers, body });
}

async function json(response: Response): Promise<any> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  return response.json();
}

const RUN_KEYS = ['completed', 'completedAt', 'createdAt', 'icp', 'icpId', 'id', 'status', 'stuckFor', 'totalProspects', 'updatedAt'];

describe('GET /api/qualify/recovery', () => {
  test('returns the seed body {success, count, runs[].stuckFor} and changes nothing', async () => {
    const before = await statuses(db.pool);
    const response = await GET(new Request(`${URL_BASE}?timeout=30`));
    assert.equal(response.status, 200);
    const body = await json(response);
    assert.deepEqual(Object.keys(body).sort(), ['count', 'runs', 'success']);
    assert.equal(body.success, true);
    assert.equal(body.count, 2);
    assert.equal(typeof body.count, 'number');
    // oldest activity first: the PENDING run (2 hours), then the PROCESSING one (45 minutes)
    assert.deepEqual(body.runs.map((r: any) => r.id), [STUCK_AT_30[1], STUCK_AT_30[0]]);
    const [pending, processing] = body.runs;
    assert.deepEqual(Object.keys(processing).sort(), RUN_KEYS);
    assert.equal(processing.status, 'PROCESSING');
    assert.equal(processing.completed, 3);
    assert.equal(processing.totalProspects, 10);
    assert.ok(processing.stuckFor >= 45 && processing.stuckFor <= 46, `stuckFor ${processing.stuckFor}`);
    assert.ok(pending.stuckFor >= 120 && pending.stuckFor <= 121, `stuckFor ${pending.stuckFor}`);
    assert.equal(pending.updatedAt, null);
    assert.equal(processing.completedAt, null);
    assert.deepEqual(processing.icp, {
      title: 'E-commerce SaaS Companies',
      company: { name: 'Stripe', domain: 'stripe.com' },
    });
    assert.deepEqual(await statuses(db.pool), before);
  });

  test('timestamps are what Response.json of a Prisma row gives: ISO 8601 UTC', async () => {
    const body = await json(await GET(new Request(URL_BASE)));
    for (const run of body.runs) {
      const row = await getPrisma().qualificationRun.findUniqueOrThrow({ where: { id: run.id } });
      assert.equal(run.createdAt, row.createdAt.toISOString());
      assert.match(run.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(run.updatedAt, row.updatedAt?.toISOString() ?? null);
      // and they are UTC: created 45 or 120 minutes ago, give or take the test's own run time
      const minutesAgo = (Date.now() - Date.parse(run.createdAt)) / 60_000;
      assert.ok(Math.abs(minutesAgo - run.stuckFor) < 2, `${run.id}: created ${minutesAgo} min ago, stuckFor ${run.stuckFor}`);
    }
  });

  test('defaults to 30 minutes and honours ?timeout=', async () => {
    assert.equal((await json(await GET(new Request(URL_BASE)))).count, 2);
    const body60 = await json(await GET(new Request(`${URL_BASE}?timeout=60`)));
    assert.equal(body60.count, 1);
    assert.equal(body60.runs[0].id, STUCK_AT_30[1]);
    const body2 = await json(await GET(new Request(`${URL_BASE}?timeout=2`)));
    assert.equal(body2.count, 2, 'the run active a minute ago is alive');
    const body1 = await json(await GET(new Request(`${URL_BASE}?timeout=1`)));
    assert.equal(body1.count, 3, 'but not for a one-minute timeout');
    const body500 = await json(await GET(new Request(`${URL_BASE}?timeout=500`)));
    assert.deepEqual(body500, { success: true, count: 0, runs: [] });
  });

  for (const bad of ['abc', '0', '-5', '1.5', '30m', '99999999999', '1e3']) {
    test(`?timeout=${bad} is a 400 {success:false, error}`, async () => {
      const response = await GET(new Request(`${URL_BASE}?timeout=${encodeURIComponent(bad)}`));
      assert.equal(response.status, 400);
      const body = await json(response);
      assert.equal(body.success, false);
      assert.match(body.error, /timeout must be a whole number of minutes/);
    });
  }
});

describe('POST /api/qualify/recovery', () => {
  test('recovers the stuck runs and returns {success, message, recovered, runs}', async () => {
    const response = await POST(post(JSON.stringify({ timeout: 30 })));
    assert.equal(response.status, 200);
    const body = await json(response);
    assert.deepEqual(Object.keys(body).sort(), ['message', 'recovered', 'runs', 'success']);
    assert.equal(body.success, true);
    assert.equal(body.message, 'Recovered 2 stuck runs');
    assert.equal(body.recovered, 2);
    assert.equal(typeof body.recovered, 'number');
    assert.deepEqual(body.runs.map((r: any) => r.id).sort(), [...STUCK_AT_30].sort());
    for (const run of body.runs) {
      assert.deepEqual(Object.keys(run).sort(), RUN_KEYS);
      assert.equal(run.status, 'FAILED');
      assert.equal(typeof run.stuckFor, 'number');
      const row = await getPrisma().qualificationRun.findUniqueOrThrow({ where: { id: run.id } });
      assert.equal(row.status, 'FAILED');
      assert.ok(row.completedAt instanceof Date);
      assert.equal(run.completedAt, row.completedAt.toISOString());
      assert.ok(Math.abs(Date.now() - row.completedAt.getTime()) < 60_000, 'completedAt is now, in UTC');
    }
    // the right runs, and only them
    const now = await statuses(db.pool);
    assert.equal(now[STUCK_AT_30[0]], 'FAILED');
    assert.equal(now[STUCK_AT_30[1]], 'FAILED');
    assert.equal(now[LIVE], 'PROCESSING');
    assert.equal(now[DONE], 'COMPLETED');
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM prospects');
    assert.equal(rows[0].n, 2, 'prospects already saved are kept');
    const history = await db.pool.query(
      `SELECT run_id, previous_status, new_status FROM recovery.history ORDER BY run_id`,
    );
    assert.deepEqual(
      history.rows.filter((h) => STUCK_AT_30.includes(h.run_id)).map((h) => `${h.previous_status}->${h.new_status}`).sort(),
      ['PENDING->FAILED', 'PROCESSING->FAILED'],
    );
  });

  test('a second call recovers nothing', async () => {
    await POST(post('{"timeout": 30}'));
    const body = await json(await POST(post('{"timeout": 30}')));
    assert.deepEqual(body, { success: true, message: 'Recovered 0 stuck runs', recovered: 0, runs: [] });
  });

  test('an empty body (curl -X POST) means 30 minutes', async () => {
    const body = await json(await POST(post(undefined, {})));
    assert.equal(body.recovered, 2);
  });

  test('{"timeout": 60} recovers only runs stuck for an hour', async () => {
    const body = await json(await POST(post('{"timeout": 60}')));
    assert.equal(body.recovered, 1);
    assert.equal(body.runs[0].id, STUCK_AT_30[1]);
    assert.equal((await statuses(db.pool))[STUCK_AT_30[0]], 'PROCESSING');
  });

  test('a timeout given as a string of digits is accepted', async () => {
    const body = await json(await POST(post('{"timeout": "60"}')));
    assert.equal(body.recovered, 1);
  });

  for (const [name, raw] of [
    ['not JSON', '{timeout: 30'],
    ['a JSON array', '[30]'],
    ['a JSON string', '"30"'],
    ['timeout 0', '{"timeout": 0}'],
    ['timeout -1', '{"timeout": -1}'],
    ['timeout 2.5', '{"timeout": 2.5}'],
    ['timeout "abc"', '{"timeout": "abc"}'],
    ['timeout true', '{"timeout": true}'],
    ['timeout over a year', '{"timeout": 525601}'],
  ] as const) {
    test(`${name} is a 400 {success:false, error} and recovers nothing`, async () => {
      const before = await statuses(db.pool);
      const response = await POST(post(raw));
      assert.equal(response.status, 400);
      const body = await json(response);
      assert.equal(body.success, false);
      assert.equal(typeof body.error, 'string');
      assert.ok(body.error.length > 0);
      assert.deepEqual(await statuses(db.pool), before);
    });
  }
});

test('a database error is a 500 {success:false, error} without the SQL details', async (t) => {
  t.mock.method(console, 'error', () => {});
  await db.pool.query('DROP EXTENSION recovery');
  try {
    for (const response of [await GET(new Request(URL_BASE)), await POST(post('{"timeout": 30}'))]) {
      assert.equal(response.status, 500);
      const body = await json(response);
      assert.equal(body.success, false);
      assert.match(body.error, /^Failed to (check for|recover) stuck runs$/);
    }
  } finally {
    await db.pool.query('CREATE EXTENSION recovery');
    await db.pool.query(`SELECT recovery.watch('qualification_runs')`);
  }
  assert.equal((await json(await GET(new Request(URL_BASE)))).count, 2);
});
