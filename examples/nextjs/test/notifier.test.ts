// ActiveRunsNotifier: LISTEN recovery drops recovered runs from the active list,
// whoever recovers them (the POST route, plain SQL).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { POST } from '../src/app/api/qualify/recovery/route.ts';
import { RunStatus } from '../src/generated/prisma/enums.ts';
import { ActiveRunsNotifier, type ActiveRun, type RecoveryNotification } from '../src/lib/active-runs-notifier.ts';
import { disconnectPrisma, getPrisma } from '../src/lib/prisma.ts';
import { createTestDatabase, LIVE, seed, STUCK_AT_30, type TestDatabase } from './helpers/db.ts';

let db: TestDatabase;
let notifier: ActiveRunsNotifier;

before(async () => {
  db = await createTestDatabase('notifier');
});
after(async () => {
  await disconnectPrisma();
  await db.drop();
});
beforeEach(async () => {
  await seed(db.pool);
  notifier = new ActiveRunsNotifier();
  await notifier.start();
});
afterEach(async () => {
  await notifier.stop();
});

/** Resolves with the next `n` 'recovered' notifications (5 s at most). */
function nextRecoveries(n: number): Promise<RecoveryNotification[]> {
  return new Promise((resolve, reject) => {
    const seen: RecoveryNotification[] = [];
    const onRecovered = (notification: RecoveryNotification) => {
      seen.push(notification);
      if (seen.length === n) finish();
    };
    const timer = setTimeout(() => finish(new Error(`${seen.length} of ${n} recoveries seen in 5 s`)), 5000);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      notifier.off('recovered', onRecovered);
      if (error) reject(error);
      else resolve(seen);
    };
    notifier.on('recovered', onRecovered);
  });
}

test('start() lists the PENDING/PROCESSING runs, typed, with UTC times', async () => {
  const list = notifier.list();
  assert.deepEqual(list.map((r) => r.id), [LIVE, STUCK_AT_30[1], STUCK_AT_30[0]]);
  for (const run of list) {
    const row = await getPrisma().qualificationRun.findUniqueOrThrow({ where: { id: run.id } });
    assert.ok(run.createdAt instanceof Date);
    assert.equal(run.createdAt.getTime(), row.createdAt.getTime(), 'same instant as Prisma reads');
    assert.equal(run.status, row.status);
    assert.equal(typeof run.completed, 'number');
    assert.equal(run.totalProspects, row.totalProspects);
  }
});

test('a recovery through the POST route drops the recovered runs, and only them', async () => {
  const recoveries = nextRecoveries(2);
  const response = await POST(new Request('http://localhost/api/qualify/recovery', { method: 'POST', body: '{"timeout": 30}' }));
  assert.equal((await response.json()).recovered, 2);
  const seen = await recoveries;
  assert.deepEqual(seen.map((n) => n.run_id).sort(), [...STUCK_AT_30].sort());
  for (const n of seen) {
    assert.equal(n.run_table, 'public.qualification_runs');
    assert.equal(n.new_status, 'FAILED');
    assert.ok(n.previous_status === 'PENDING' || n.previous_status === 'PROCESSING');
  }
  assert.deepEqual(notifier.list().map((r) => r.id), [LIVE]);
});

test('the event carries the run the list held', async () => {
  const event = once(notifier, 'recovered', { signal: AbortSignal.timeout(5000) });
  await db.pool.query(`SELECT * FROM recovery.recover_stuck_runs('60 minutes')`);
  const [notification, run] = (await event) as [RecoveryNotification, ActiveRun | undefined];
  assert.equal(notification.run_id, STUCK_AT_30[1]);
  assert.equal(run?.id, STUCK_AT_30[1]);
  assert.equal(run?.status, RunStatus.PENDING);
  assert.ok(notifier.has(STUCK_AT_30[0]), 'the run stuck for 45 minutes is still there');
});

test('recoveries by anyone else (psql, pg_cron) arrive too; other tables are ignored', async () => {
  await db.pool.query(`CREATE TABLE other_jobs (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL)`);
  await db.pool.query(`INSERT INTO other_jobs VALUES (1, 'PENDING', now() - interval '3 hours')`);
  await db.pool.query(`SELECT recovery.watch('other_jobs')`);
  try {
    const events: string[] = [];
    notifier.on('recovered', (n) => events.push(`${n.run_table}/${n.run_id}`));
    const done = nextRecoveries(2);
    // one transaction: other_jobs first, then ours; NOTIFYs arrive on commit, in order
    await db.pool.query(`SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes', run_table => 'other_jobs');
                         SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')`);
    await done;
    assert.deepEqual(events.sort(), STUCK_AT_30.map((id) => `public.qualification_runs/${id}`).sort());
    assert.deepEqual(notifier.list().map((r) => r.id), [LIVE]);
  } finally {
    await db.pool.query(`SELECT recovery.unwatch('other_jobs'); DROP TABLE other_jobs`);
  }
});

test('a rolled-back recovery notifies nothing', async () => {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT * FROM recovery.recover_stuck_runs('30 minutes')`);
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
  // a later, committed recovery is the first event the notifier sees
  const event = once(notifier, 'recovered', { signal: AbortSignal.timeout(5000) });
  await db.pool.query(`SELECT * FROM recovery.recover_stuck_runs('60 minutes')`);
  const [first] = (await event) as [RecoveryNotification];
  assert.equal(first.run_id, STUCK_AT_30[1]);
  assert.deepEqual(notifier.list().map((r) => r.id), [LIVE, STUCK_AT_30[0]]);
});

test('track/untrack, reload, and a run started after start()', async () => {
  const prisma = getPrisma();
  const run = await prisma.qualificationRun.create({
    data: { icpId: 'icp1', status: RunStatus.PROCESSING, totalProspects: 3, createdAt: new Date(Date.now() - 90 * 60_000), updatedAt: null },
  });
  // @updatedAt fills updatedAt on create: make it look crashed 90 minutes ago
  await db.pool.query(`UPDATE qualification_runs SET "updatedAt" = "createdAt" WHERE id = $1`, [run.id]);
  assert.equal(notifier.has(run.id), false);
  notifier.track({ id: run.id, status: run.status, completed: 0, totalProspects: 3, createdAt: run.createdAt });
  assert.equal(notifier.has(run.id), true);
  const done = nextRecoveries(3);
  await db.pool.query(`SELECT * FROM recovery.recover_stuck_runs('30 minutes')`);
  assert.ok((await done).some((n) => n.run_id === run.id));
  assert.equal(notifier.has(run.id), false);
  assert.equal(notifier.untrack(LIVE), true);
  assert.deepEqual(notifier.list(), []);
  await notifier.reload();
  assert.deepEqual(notifier.list().map((r) => r.id), [LIVE]);
});

test('stop() stops listening', async () => {
  await notifier.stop();
  let events = 0;
  notifier.on('recovered', () => events++);
  await db.pool.query(`SELECT * FROM recovery.recover_stuck_runs('30 minutes')`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(events, 0);
  await notifier.start(); // afterEach stops it again
});

test('after the connection is lost: an error event, then start() again reloads and listens', async () => {
  const error = once(notifier, 'error', { signal: AbortSignal.timeout(5000) });
  await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'active-runs-notifier'`);
  await error;
  assert.equal(notifier.listening, false);
  // meanwhile, a recovery nobody heard of
  await db.pool.query(`SELECT * FROM recovery.recover_stuck_runs('60 minutes')`);
  await notifier.start();
  assert.equal(notifier.listening, true);
  assert.deepEqual(notifier.list().map((r) => r.id), [LIVE, STUCK_AT_30[0]], 'reloaded from the table');
  const event = once(notifier, 'recovered', { signal: AbortSignal.timeout(5000) });
  await db.pool.query(`SELECT * FROM recovery.recover_stuck_runs('30 minutes')`);
  assert.equal(((await event) as [RecoveryNotification])[0].run_id, STUCK_AT_30[0]);
  assert.deepEqual(notifier.list().map((r) => r.id), [LIVE]);
});
