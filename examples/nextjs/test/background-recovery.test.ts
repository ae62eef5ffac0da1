// src/lib/background-recovery.ts through Prisma's $queryRaw: the values come
// back typed as Prisma types them (Date, number, the RunStatus enum).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunStatus } from '../src/generated/prisma/enums.ts';
import {
  DEFAULT_TIMEOUT_MINUTES,
  findStuckRuns,
  InvalidTimeoutError,
  MAX_TIMEOUT_MINUTES,
  parseTimeout,
  recoverStuckRuns,
  recoverStuckRunsReport,
  stuckRunsReport,
  toQualificationRun,
  watchRunTable,
} from '../src/lib/background-recovery.ts';
import { getPrisma } from '../src/lib/prisma.ts';
import { useTestDatabase, LIVE, statuses, STUCK_AT_30 } from './helpers/db.ts';

const db = useTestDatabase('background_recovery');

describe('parseTimeout', () => {
  test('absent means 30 minutes', () => {
    for (const v of [undefined, null, '']) assert.equal(parseTimeout(v), DEFAULT_TIMEOUT_MINUTES);
  });
  test('whole minutes, as numbers or digit strings', () => {
    assert.equal(parseTimeout(60), 60);
    assert.equal(parseTimeout('60'), 60);
    assert.equal(parseTimeout(' 7 '), 7);
    assert.equal(parseTimeout(MAX_TIMEOUT_MINUTES), MAX_TIMEOUT_MINUTES);
  });
  test('anything else throws InvalidTimeoutError', () => {
    for (const v of [0, -1, 1.5, NaN, Infinity, MAX_TIMEOUT_MINUTES + 1, '1e3', '0x10', 'abc', '-5', true, {}, [30], 30n]) {
      assert.throws(() => parseTimeout(v), InvalidTimeoutError, `accepted ${String(v)}`);
    }
  });
});

test('watchRunTable is idempotent', async () => {
  assert.equal(await watchRunTable(), false, 'the helper watched it already');
  const { rows } = await db.pool.query(`SELECT table_name, started_column, activity_column, finished_column FROM recovery.watched_tables`);
  assert.deepEqual(rows, [
    { table_name: 'public.qualification_runs', started_column: 'createdAt', activity_column: 'updatedAt', finished_column: 'completedAt' },
  ]);
});

describe('findStuckRuns', () => {
  test('returns the stuck runs, oldest first, typed as Prisma types them, and changes nothing', async () => {
    const before = await statuses(db.pool);
    const runs = await findStuckRuns(30);
    assert.deepEqual(runs.map((r) => r.runId), [STUCK_AT_30[1], STUCK_AT_30[0]]);
    for (const r of runs) {
      assert.equal(r.runTable, 'public.qualification_runs');
      assert.ok(r.startedAt instanceof Date);
      assert.ok(r.lastActivityAt instanceof Date);
      assert.equal(typeof r.stuckFor, 'number');
      assert.equal(r.reason, 'timeout');
      assert.ok(Object.values(RunStatus).includes(r.status));
      // The row from the extension's JSON equals what Prisma itself reads.
      const row = await getPrisma().qualificationRun.findUniqueOrThrow({ where: { id: r.runId } });
      assert.deepEqual(r.run, row);
      assert.ok(r.run.createdAt instanceof Date);
      assert.equal(r.startedAt.getTime(), row.createdAt.getTime(), 'timestamp(3) read as UTC on both sides');
    }
    assert.equal(runs[0].status, RunStatus.PENDING);
    assert.equal(runs[0].run.updatedAt, null);
    assert.equal(runs[1].status, RunStatus.PROCESSING);
    assert.equal(runs[1].lastActivityAt.getTime(), runs[1].run.updatedAt?.getTime());
    assert.deepEqual(await statuses(db.pool), before);
  });

  test('timeout in minutes', async () => {
    assert.equal((await findStuckRuns(60)).length, 1);
    assert.equal((await findStuckRuns(1000)).length, 0);
    assert.equal((await findStuckRuns()).length, 2);
    await assert.rejects(findStuckRuns(0), InvalidTimeoutError);
  });

  test('only qualification_runs, even when other tables are watched', async () => {
    await db.pool.query(`CREATE TABLE other_jobs (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL)`);
    await db.pool.query(`INSERT INTO other_jobs VALUES (1, 'PENDING', now() - interval '3 hours')`);
    await db.pool.query(`SELECT recovery.watch('other_jobs')`);
    try {
      assert.equal((await findStuckRuns(30)).length, 2);
      assert.equal((await recoverStuckRuns(30)).length, 2);
      const { rows } = await db.pool.query(`SELECT status FROM other_jobs`);
      assert.equal(rows[0].status, 'PENDING');
    } finally {
      await db.pool.query(`SELECT recovery.unwatch('other_jobs'); DROP TABLE other_jobs`);
    }
  });
});

describe('recoverStuckRuns', () => {
  test('marks them FAILED and returns the transitions, typed', async () => {
    const recovered = await recoverStuckRuns(30);
    assert.deepEqual(recovered.map((r) => r.runId).sort(), [...STUCK_AT_30].sort());
    for (const r of recovered) {
      assert.equal(r.newStatus, RunStatus.FAILED);
      assert.ok(r.previousStatus === RunStatus.PENDING || r.previousStatus === RunStatus.PROCESSING);
      assert.ok(r.recoveredAt instanceof Date);
      assert.ok(r.startedAt instanceof Date);
      assert.equal(typeof r.stuckFor, 'number');
      const row = await getPrisma().qualificationRun.findUniqueOrThrow({ where: { id: r.runId } });
      assert.deepEqual(r.run, row, 'run is the row after the change');
      assert.equal(row.status, RunStatus.FAILED);
      assert.ok(row.completedAt instanceof Date);
      assert.ok(Math.abs(row.completedAt.getTime() - r.recoveredAt.getTime()) < 1000, 'completedAt written as UTC');
    }
    assert.equal((await statuses(db.pool))[LIVE], 'PROCESSING');
    assert.deepEqual(await recoverStuckRuns(30), []);
  });

  test('a run the app updates meanwhile is left alone', async () => {
    await getPrisma().qualificationRun.update({ where: { id: STUCK_AT_30[0] }, data: { completed: 4 } });
    // @updatedAt: Prisma set updatedAt to now, so the run is alive again
    const recovered = await recoverStuckRuns(30);
    assert.deepEqual(recovered.map((r) => r.runId), [STUCK_AT_30[1]]);
  });
});

describe('while the app is writing a run', () => {
  test('a run locked by a live transaction is skipped, not waited for; the next call gets it', async () => {
    const app = await db.pool.connect();
    try {
      await app.query('BEGIN');
      await app.query(`SELECT * FROM qualification_runs WHERE id = $1 FOR UPDATE`, [STUCK_AT_30[0]]);
      const started = Date.now();
      const recovered = await recoverStuckRuns(30);
      assert.ok(Date.now() - started < 5000, 'did not wait for the lock');
      assert.deepEqual(recovered.map((r) => r.runId), [STUCK_AT_30[1]]);
      await app.query('ROLLBACK');
    } finally {
      app.release();
    }
    assert.deepEqual((await recoverStuckRuns(30)).map((r) => r.runId), [STUCK_AT_30[0]]);
  });
});

describe('reports', () => {
  test('count and recovered are numbers, not BigInt (a raw count(*) would be)', async () => {
    const [raw] = await getPrisma().$queryRaw<[{ n: unknown }]>`SELECT count(*) AS n FROM qualification_runs`;
    assert.equal(typeof raw.n, 'bigint', 'Prisma reads int8 as BigInt, which Response.json cannot serialize');
    const check = await stuckRunsReport(30);
    assert.equal(typeof check.count, 'number');
    assert.equal(check.count, 2);
    assert.doesNotThrow(() => JSON.stringify(check));
    const recovery = await recoverStuckRunsReport(30);
    assert.equal(typeof recovery.recovered, 'number');
    assert.equal(recovery.recovered, 2);
    assert.equal(recovery.message, 'Recovered 2 stuck runs');
    assert.deepEqual(recovery.runs.map((r) => r.status), [RunStatus.FAILED, RunStatus.FAILED]);
  });

  test('times do not depend on the session TimeZone (prisma/orm#26786 worked around)', async () => {
    const utc = await findStuckRuns(30);
    const prisma = getPrisma();
    const inTokyo = await prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL TimeZone = 'Asia/Tokyo'`;
      return findStuckRuns(30, tx);
    });
    assert.deepEqual(
      inTokyo.map((r) => [r.runId, r.run.createdAt.toISOString(), r.startedAt.toISOString(), r.lastActivityAt.toISOString()]),
      utc.map((r) => [r.runId, r.run.createdAt.toISOString(), r.startedAt.toISOString(), r.lastActivityAt.toISOString()]),
    );
    const recovered = await prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL TimeZone = 'America/New_York'`;
      return recoverStuckRuns(30, tx);
    });
    for (const r of recovered) {
      assert.ok(Math.abs(r.recoveredAt.getTime() - Date.now()) < 60_000, `recoveredAt ${r.recoveredAt.toISOString()}`);
      assert.equal(r.startedAt.getTime(), r.run.createdAt.getTime());
    }
  });
});

describe('toQualificationRun', () => {
  const row = {
    id: 'r1', icpId: 'i1', status: 'PROCESSING', totalProspects: 10, completed: 3,
    createdAt: '2025-10-20T10:00:00.000Z', updatedAt: '2025-10-20T10:05:00.123Z', completedAt: null,
  };
  test('reads the extension\'s UTC instants (ending in Z), in any process zone', () => {
    const run = toQualificationRun(row);
    assert.equal(run.createdAt.toISOString(), '2025-10-20T10:00:00.000Z');
    assert.equal(run.updatedAt?.toISOString(), '2025-10-20T10:05:00.123Z');
    assert.equal(run.completedAt, null);
    // A zone-less text is not what the extension writes: it would be read as local time.
    assert.throws(() => toQualificationRun({ ...row, createdAt: '2025-10-20T10:00:00' }), /not a UTC instant/);
  });
  test('rejects what is not a QualificationRun', () => {
    assert.throws(() => toQualificationRun({ ...row, status: 'RUNNING' }), /not a RunStatus/);
    assert.throws(() => toQualificationRun({ ...row, completed: '3' }), /completed: expected an integer/);
    assert.throws(() => toQualificationRun({ ...row, createdAt: 'infinity' }), /not a UTC instant/);
    assert.throws(() => toQualificationRun({ ...row, id: undefined }), /id: expected a string/);
  });
});
