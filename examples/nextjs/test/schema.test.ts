// prisma/schema.prisma and demo/seed-schema.sql (= prisma/schema.sql) describe the same tables:
// the Prisma client works against the tables that SQL file creates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunStatus } from '../src/generated/prisma/enums.ts';
import { getPrisma } from '../src/lib/prisma.ts';
import { useTestDatabase } from './helpers/db.ts';

const db = useTestDatabase('schema', { seedEach: false });

test('every model reads and writes its table, with its defaults and relations', async () => {
  const prisma = getPrisma();
  const company = await prisma.company.create({ data: { name: 'Stripe', domain: 'stripe.com' } });
  const icp = await prisma.iCP.create({ data: { title: 'E-commerce SaaS Companies', companyId: company.id } });
  const run = await prisma.qualificationRun.create({
    data: { icpId: icp.id, totalProspects: 2, prospects: { create: [{ domain: 'a.example', score: 90 }, { domain: 'b.example' }] } },
  });
  assert.equal(run.status, RunStatus.PENDING);
  assert.equal(run.completed, 0);
  assert.ok(run.createdAt instanceof Date);
  assert.ok(Math.abs(run.createdAt.getTime() - Date.now()) < 60_000);

  const loaded = await prisma.qualificationRun.findUniqueOrThrow({
    where: { id: run.id },
    include: { icp: { include: { company: true } }, prospects: { orderBy: { domain: 'asc' } } },
  });
  assert.equal(loaded.icp.company.domain, 'stripe.com');
  assert.deepEqual(loaded.prospects.map((p) => [p.domain, p.score]), [['a.example', 90], ['b.example', null]]);

  const updated = await prisma.qualificationRun.update({ where: { id: run.id }, data: { status: RunStatus.PROCESSING, completed: 1 } });
  assert.ok(updated.updatedAt instanceof Date, '@updatedAt fills the nullable updatedAt column');

  // The SQL side sees what Prisma wrote: the enum type, UTC wall-clock timestamps.
  const { rows } = await db.pool.query(
    `SELECT status::text AS status, pg_typeof(status)::text AS type,
            extract(epoch FROM "createdAt" - (now() AT TIME ZONE 'UTC')) AS skew
     FROM qualification_runs WHERE id = $1`,
    [run.id],
  );
  assert.equal(rows[0].status, 'PROCESSING');
  assert.equal(rows[0].type, '"RunStatus"');
  assert.ok(Math.abs(Number(rows[0].skew)) < 60, `createdAt is UTC (skew ${rows[0].skew}s)`);
});

test('the Prisma models map to the tables and columns of demo/seed-schema.sql', async () => {
  const { rows } = await db.pool.query<{ table_name: string; columns: string[] }>(
    `SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) AS columns
     FROM information_schema.columns WHERE table_schema = 'public' GROUP BY table_name ORDER BY table_name`,
  );
  assert.deepEqual(rows, [
    { table_name: 'Company', columns: ['id', 'name', 'domain'] },
    { table_name: 'ICP', columns: ['id', 'title', 'companyId'] },
    { table_name: 'prospects', columns: ['id', 'runId', 'domain', 'score'] },
    {
      table_name: 'qualification_runs',
      columns: ['id', 'icpId', 'status', 'totalProspects', 'completed', 'createdAt', 'updatedAt', 'completedAt'],
    },
  ]);
  // every column is reachable through Prisma (a wrong @map or field name would fail here)
  const prisma = getPrisma();
  await prisma.company.findMany({ select: { id: true, name: true, domain: true } });
  await prisma.iCP.findMany({ select: { id: true, title: true, companyId: true } });
  await prisma.prospect.findMany({ select: { id: true, runId: true, domain: true, score: true } });
  await prisma.qualificationRun.findMany({
    select: { id: true, icpId: true, status: true, totalProspects: true, completed: true, createdAt: true, updatedAt: true, completedAt: true },
  });
});

test('prisma/schema.sql is demo/seed-schema.sql: the app ships the same tables', async () => {
  const { readFileSync } = await import('node:fs');
  const app = readFileSync(new URL('../prisma/schema.sql', import.meta.url), 'utf8');
  const demo = readFileSync(new URL('../../../demo/seed-schema.sql', import.meta.url), 'utf8');
  assert.equal(app, demo);
});

test('psql -f prisma/setup.sql then prisma/demo-data.sql: a database the app can use, from nothing', async () => {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const { default: pg } = await import('pg');
  const name = `${db.name}_setup`;
  const admin = new pg.Client({ database: 'postgres' });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  try {
    for (const file of ['setup.sql', 'demo-data.sql']) {
      execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', name, '-f', fileURLToPath(new URL(`../prisma/${file}`, import.meta.url))], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    }
    const client = new pg.Client({ database: name });
    await client.connect();
    try {
      const watched = await client.query(`SELECT count(*)::int AS n FROM recovery.find_stuck_runs(interval '30 minutes')`);
      assert.equal(watched.rows[0].n, 2, 'the demo data has two runs stuck at 30 minutes');
    } finally {
      await client.end();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  }
});
