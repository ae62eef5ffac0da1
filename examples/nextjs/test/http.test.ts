// The built Next.js app, started with `npm start` (DATABASE_URL, PORT), and the
// seed's calls over real HTTP: curl's GET ?timeout=, POST {"timeout": 30}.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { useTestDatabase, DONE, LIVE, statuses, STUCK_AT_30 } from './helpers/db.ts';
import { listening, startApp, type RunningApp } from './helpers/server.ts';

const db = useTestDatabase('http');
let app: RunningApp;

before(async () => {
  await db.ready;
  app = await startApp(db.name);
});
after(async () => {
  await app?.stop();
});

async function call(path: string, init?: RequestInit): Promise<{ status: number; type: string; body: any }> {
  const response = await fetch(`${app.url}${path}`, init);
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, type, body: type.startsWith('application/json') ? JSON.parse(text) : text };
}

function postJson(body?: string): RequestInit {
  return { method: 'POST', headers: { 'Content-Type': 'application/json' }, body };
}

const RUN_KEYS = ['completed', 'completedAt', 'createdAt', 'icp', 'icpId', 'id', 'status', 'stuckFor', 'totalProspects', 'updatedAt'];

describe('GET /api/qualify/recovery over HTTP', () => {
  test('?timeout=30: the seed body {success, count, runs}, nothing changed', async () => {
    const before = await statuses(db.pool);
    const { status, type, body } = await call('/api/qualify/recovery?timeout=30');
    assert.equal(status, 200);
    assert.match(type, /^application\/json/);
    assert.deepEqual(Object.keys(body).sort(), ['count', 'runs', 'success']);
    assert.equal(body.success, true);
    assert.equal(body.count, 2);
    assert.deepEqual(body.runs.map((r: any) => r.id), [STUCK_AT_30[1], STUCK_AT_30[0]]);
    const processing = body.runs[1];
    assert.deepEqual(Object.keys(processing).sort(), RUN_KEYS);
    assert.equal(processing.status, 'PROCESSING');
    assert.equal(processing.completed, 3);
    assert.equal(processing.totalProspects, 10);
    assert.match(processing.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(processing.stuckFor >= 45 && processing.stuckFor <= 46, `stuckFor ${processing.stuckFor}`);
    assert.deepEqual(processing.icp, { title: 'E-commerce SaaS Companies', company: { name: 'Stripe', domain: 'stripe.com' } });
    assert.deepEqual(await statuses(db.pool), before);
  });

  test('no ?timeout= means 30; ?timeout=60 finds only the run stuck for two hours', async () => {
    assert.equal((await call('/api/qualify/recovery')).body.count, 2);
    const { body } = await call('/api/qualify/recovery?timeout=60');
    assert.equal(body.count, 1);
    assert.equal(body.runs[0].id, STUCK_AT_30[1]);
  });

  for (const bad of ['abc', '0', '-5', '1.5', '99999999999']) {
    test(`?timeout=${bad} is a 400 {success:false, error}`, async () => {
      const { status, type, body } = await call(`/api/qualify/recovery?timeout=${encodeURIComponent(bad)}`);
      assert.equal(status, 400);
      assert.match(type, /^application\/json/);
      assert.equal(body.success, false);
      assert.match(body.error, /timeout must be a whole number of minutes/);
    });
  }
});

describe('POST /api/qualify/recovery over HTTP', () => {
  test('{"timeout": 30}: the seed body {success, message, recovered, runs}; the stuck runs are FAILED', async () => {
    const { status, type, body } = await call('/api/qualify/recovery', postJson('{"timeout": 30}'));
    assert.equal(status, 200);
    assert.match(type, /^application\/json/);
    assert.deepEqual(Object.keys(body).sort(), ['message', 'recovered', 'runs', 'success']);
    assert.equal(body.success, true);
    assert.equal(body.message, 'Recovered 2 stuck runs');
    assert.equal(body.recovered, 2);
    assert.deepEqual(body.runs.map((r: any) => r.id).sort(), [...STUCK_AT_30].sort());
    for (const run of body.runs) {
      assert.deepEqual(Object.keys(run).sort(), RUN_KEYS);
      assert.equal(run.status, 'FAILED');
      assert.match(run.completedAt, /Z$/);
    }
    const now = await statuses(db.pool);
    assert.deepEqual(
      [now[STUCK_AT_30[0]], now[STUCK_AT_30[1]], now[LIVE], now[DONE]],
      ['FAILED', 'FAILED', 'PROCESSING', 'COMPLETED'],
    );
    // and again: nothing left
    const again = await call('/api/qualify/recovery', postJson('{"timeout": 30}'));
    assert.deepEqual(again.body, { success: true, message: 'Recovered 0 stuck runs', recovered: 0, runs: [] });
  });

  test('curl -X POST with no body means 30 minutes', async () => {
    const { status, body } = await call('/api/qualify/recovery', { method: 'POST' });
    assert.equal(status, 200);
    assert.equal(body.recovered, 2);
  });

  test('{"timeout": 60} recovers only the run stuck for two hours', async () => {
    const { body } = await call('/api/qualify/recovery', postJson('{"timeout": 60}'));
    assert.equal(body.recovered, 1);
    assert.equal(body.runs[0].id, STUCK_AT_30[1]);
    assert.equal((await statuses(db.pool))[STUCK_AT_30[0]], 'PROCESSING');
  });

  for (const [name, raw] of [
    ['not JSON', '{timeout: 30'],
    ['a JSON array', '[30]'],
    ['timeout 0', '{"timeout": 0}'],
    ['timeout "abc"', '{"timeout": "abc"}'],
    ['timeout 2.5', '{"timeout": 2.5}'],
  ] as const) {
    test(`${name} is a 400 {success:false, error} and recovers nothing`, async () => {
      const before = await statuses(db.pool);
      const { status, type, body } = await call('/api/qualify/recovery', postJson(raw));
      assert.equal(status, 400);
      assert.match(type, /^application\/json/);
      assert.equal(body.success, false);
      assert.ok(typeof body.error === 'string' && body.error.length > 0);
      assert.deepEqual(await statuses(db.pool), before);
    });
  }
});

describe('the page and its event stream over HTTP', () => {
  test('GET / is rendered on the server with the active runs: id, status, progress', async () => {
    const { status, type, body } = await call('/');
    assert.equal(status, 200);
    assert.match(type, /^text\/html/);
    for (const id of [...STUCK_AT_30, LIVE]) assert.match(body, new RegExp(`data-run-id="${id}"`));
    assert.doesNotMatch(body, new RegExp(DONE), 'a COMPLETED run is not active');
    assert.match(body, /PROCESSING/);
    assert.match(body, /3<!-- -->\/<!-- -->10|3\/10/);
    assert.doesNotMatch(body, /fonts\.googleapis|fonts\.gstatic/, 'no web fonts');
  });

  test('GET /api/active-runs lists the same runs as JSON', async () => {
    const { status, body } = await call('/api/active-runs');
    assert.equal(status, 200);
    assert.equal(body.success, true);
    assert.equal(body.openStreams, 0);
    assert.deepEqual(body.runs.map((r: any) => r.id).sort(), [...STUCK_AT_30, LIVE].sort());
  });

  test('GET /api/active-runs/events: a snapshot, then each recovery (done in SQL) within 2 s', async () => {
    const { response, nextEvent, close } = await openEvents();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(response.headers.get('cache-control') ?? '', /no-transform/);
    try {
      const snapshot = await nextEvent();
      assert.equal(snapshot.event, 'snapshot');
      assert.deepEqual(snapshot.data.runs.map((r: any) => r.id).sort(), [...STUCK_AT_30, LIVE].sort());
      const started = Date.now();
      await db.pool.query(`SELECT * FROM recovery.recover_stuck_runs(interval '30 minutes')`);
      const got = [await nextEvent(), await nextEvent()];
      const elapsed = Date.now() - started;
      assert.deepEqual(got.map((e) => e.event), ['recovered', 'recovered']);
      assert.deepEqual(got.map((e) => e.data.runId).sort(), [...STUCK_AT_30].sort());
      for (const e of got) assert.equal(e.data.newStatus, 'FAILED');
      assert.ok(elapsed < 2000, `the events took ${elapsed} ms`);
    } finally {
      await close();
    }
  });

  test('a closed event stream is let go by the server', async () => {
    const { nextEvent, close } = await openEvents();
    assert.equal((await nextEvent()).event, 'snapshot');
    assert.equal((await call('/api/active-runs')).body.openStreams, 1);
    await close();
    const deadline = Date.now() + 5000;
    while ((await call('/api/active-runs')).body.openStreams !== 0) {
      assert.ok(Date.now() < deadline, 'the stream is still subscribed 5 s after the client left');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  test("the server's LISTEN connection killed: it reconnects, sends a fresh snapshot, and recoveries still arrive", async () => {
    const { nextEvent, close } = await openEvents();
    try {
      assert.equal((await nextEvent()).event, 'snapshot');
      const killed = await db.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'active-runs-notifier' AND datname = current_database()`,
      );
      assert.equal(killed.rowCount, 1);
      const again = await nextEvent();
      assert.equal(again.event, 'snapshot');
      assert.deepEqual(again.data.runs.map((r: any) => r.id).sort(), [...STUCK_AT_30, LIVE].sort());
      await db.pool.query(`SELECT * FROM recovery.recover_stuck_runs(interval '60 minutes')`);
      const recovered = await nextEvent();
      assert.equal(recovered.event, 'recovered');
      assert.equal(recovered.data.runId, STUCK_AT_30[1]);
    } finally {
      await close();
    }
  });
});

/** GET /api/active-runs/events, read event by event (comments and retry: skipped). */
async function openEvents() {
  const controller = new AbortController();
  const response = await fetch(`${app.url}/api/active-runs/events`, { signal: controller.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  async function nextEvent(timeoutMs = 5000): Promise<{ event: string; data: any }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) return { event, data: JSON.parse(data) };
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()));
      });
      try {
        const { value, done } = await Promise.race([reader.read(), timeout]);
        if (done) throw new Error('the event stream ended');
        buffer += value;
      } finally {
        clearTimeout(timer);
      }
    }
  }
  async function close(): Promise<void> {
    controller.abort();
    await reader.cancel().catch(() => {});
  }
  return { response, nextEvent, close };
}

test('the server stops on SIGTERM', async () => {
  const started = Date.now();
  const result = await app.stop();
  assert.ok(result === 0 || result === 'SIGTERM' || result === 143, `exit: ${result}\n${app.output()}`);
  assert.equal(await listening(app.port), false);
  assert.ok(Date.now() - started < 10_000, 'stopped before the SIGKILL');
});
