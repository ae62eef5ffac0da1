// The built app as a recovery app instance (src/instrumentation.ts,
// src/lib/app-instance.ts), started with `npm start` as a user would: one
// alive incarnation after boot, claims with its token, superseded by a second
// start of the same name (its runs stuck: instance_restarted), a new
// incarnation after a heartbeat returned false, stopped on SIGTERM.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { seed, useTestDatabase, LIVE, STUCK_AT_30 } from './helpers/db.ts';
import { startApp, type RunningApp } from './helpers/server.ts';

const db = useTestDatabase('instances', { seedEach: false });
const NAME = `web-test-${process.pid}`;
const apps: RunningApp[] = [];

before(async () => {
  await db.ready;
  await seed(db.pool);
});
after(async () => {
  for (const app of apps) await app.stop();
});

interface InstanceRow {
  name: string;
  state: string;
  lease: string;
  claimed_runs: number;
  started_at: Date;
}

async function incarnations(name: string): Promise<InstanceRow[]> {
  const { rows } = await db.pool.query<InstanceRow>(
    `SELECT name, state, lease::text AS lease, claimed_runs::int AS claimed_runs, started_at
     FROM recovery.instances WHERE name = $1 ORDER BY started_at, incarnation`,
    [name],
  );
  return rows;
}

/** Polls `check` (every 50 ms, at most `ms`) until it returns a value. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits (at most 5 s) until the app printed a line matching `pattern`. */
async function printed(app: RunningApp, pattern: RegExp): Promise<void> {
  await eventually(`${pattern} in the output:\n${app.output()}`, async () => (pattern.test(app.output()) ? true : undefined), 5_000);
}

async function start(name: string, leaseSeconds: number): Promise<RunningApp> {
  const app = await startApp(db.name, { RECOVERY_INSTANCE: name, RECOVERY_INSTANCE_LEASE: String(leaseSeconds) });
  apps.push(app);
  return app;
}

async function claim(app: RunningApp, runId: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${app.url}/api/qualify/runs/${runId}/claim`, { method: 'POST' });
  return { status: response.status, body: await response.json() };
}

let first: RunningApp;
let second: RunningApp;

test('after npm start: one alive incarnation of RECOVERY_INSTANCE with RECOVERY_INSTANCE_LEASE', async () => {
  // A long lease: no heartbeat (every lease/3) during this file, so the first
  // app does not notice it was superseded and start again.
  first = await start(NAME, 300);
  const rows = await eventually('the incarnation', async () => {
    const rows = await incarnations(NAME);
    return rows.length > 0 ? rows : undefined;
  });
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.equal(rows[0]!.state, 'alive');
  assert.equal(rows[0]!.lease, '00:05:00');
  assert.equal(rows[0]!.claimed_runs, 0);
  await printed(first, new RegExp(`app instance "${NAME}" started \\(incarnation 1, lease 300 s\\)`));
});

test('POST /api/qualify/runs/:id/claim claims with the token: the claim is the incarnation’s', async () => {
  const { status, body } = await claim(first, LIVE);
  assert.equal(status, 200);
  assert.deepEqual(body, { success: true, claimed: true });
  const [row] = await incarnations(NAME);
  assert.equal(row!.claimed_runs, 1);
  // Not a session claim: no backend of the app holds it.
  const { rows } = await db.pool.query(
    `SELECT c.incarnation IS NOT NULL AS by_instance FROM recovery.claims AS c WHERE c.run_id = $1`,
    [LIVE],
  );
  assert.deepEqual(rows, [{ by_instance: true }]);
  // A run that is alive and claimed is not stuck.
  const stuck = await db.pool.query(`SELECT run_id FROM recovery.find_stuck_runs('30 minutes')`);
  assert.deepEqual(stuck.rows.map((r) => r.run_id).sort(), [...STUCK_AT_30].sort());
});

test('a second start of the same name supersedes the first: its claimed run is stuck with reason instance_restarted', async () => {
  second = await start(NAME, 300);
  const rows = await eventually('two incarnations', async () => {
    const rows = await incarnations(NAME);
    return rows.length === 2 && rows[1]!.state === 'alive' ? rows : undefined;
  });
  assert.deepEqual(rows.map((r) => r.state), ['superseded', 'alive']);
  const stuck = await db.pool.query(
    `SELECT run_id, reason FROM recovery.find_stuck_runs('30 minutes') WHERE run_id = $1`,
    [LIVE],
  );
  assert.deepEqual(stuck.rows, [{ run_id: LIVE, reason: 'instance_restarted' }]);
  await db.pool.query(`SELECT recovery.recover_stuck_runs('30 minutes')`);
  const history = await db.pool.query(
    `SELECT reason, previous_status, new_status FROM recovery.history WHERE run_id = $1`,
    [LIVE],
  );
  assert.deepEqual(history.rows, [{ reason: 'instance_restarted', previous_status: 'PROCESSING', new_status: 'FAILED' }]);
  // The superseded app stops (its instance_stop changes nothing any more);
  // the second one stays alive.
  await first.stop();
  assert.deepEqual((await incarnations(NAME)).map((r) => r.state), ['superseded', 'alive']);
});

test('SIGTERM: the server calls instance_stop before it exits; the state is stopped, its run stuck with reason instance_stopped', async () => {
  const run = 'cmgzsigterm0001on6tkeep001';
  await db.pool.query(
    `INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt")
     VALUES ($1, 'icp1', 'PROCESSING', 10, 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')`,
    [run],
  );
  assert.deepEqual((await claim(second, run)).body, { success: true, claimed: true });
  assert.equal((await incarnations(NAME))[1]!.claimed_runs, 1);
  const result = await second.stop();
  assert.ok(result === 0 || result === 'SIGTERM' || result === 143, `exit: ${result}\n${second.output()}`);
  assert.deepEqual((await incarnations(NAME)).map((r) => r.state), ['superseded', 'stopped']);
  await printed(second, new RegExp(`app instance "${NAME}" stopped \\(1 claimed runs given up\\)`));
  await db.pool.query(`SELECT recovery.recover_stuck_runs('30 minutes')`);
  const history = await db.pool.query(`SELECT reason, new_status FROM recovery.history WHERE run_id = $1`, [run]);
  assert.deepEqual(history.rows, [{ reason: 'instance_stopped', new_status: 'FAILED' }]);
});

test('a heartbeat that returns false: the app logs it and starts a new incarnation', async () => {
  const name = `${NAME}-beat`;
  const app = await start(name, 3); // a heartbeat every second
  await eventually('the first incarnation', async () => ((await incarnations(name)).length === 1 ? true : undefined));
  // Someone else starts the name: the app's incarnation is superseded.
  await db.pool.query(`SELECT recovery.instance_start($1, '1 minute')`, [name]);
  const rows = await eventually('the app’s new incarnation', async () => {
    const rows = await incarnations(name);
    return rows.length === 3 ? rows : undefined;
  });
  assert.deepEqual(rows.map((r) => r.state), ['superseded', 'superseded', 'alive']);
  assert.equal(rows[2]!.lease, '00:00:03');
  await printed(app, /the incarnation has ended .*starting a new one/);
  await printed(app, /started \(incarnation 2, lease 3 s\)/);
  await app.stop();
  assert.deepEqual((await incarnations(name)).map((r) => r.state), ['superseded', 'superseded', 'stopped']);
});
