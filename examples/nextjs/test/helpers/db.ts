// Test databases: one fresh database per test file, in the throwaway cluster
// whose PG* variables the node suite of scripts/test.sh (pg_virtualenv) sets. The schema
// comes from demo/seed-schema.sql, not from prisma migrate.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach } from 'node:test';
import pg from 'pg';
import { disconnectPrisma } from '../../src/lib/prisma.ts';

const SEED_SCHEMA = fileURLToPath(new URL('../../../../demo/seed-schema.sql', import.meta.url));

export interface TestDatabase {
  name: string;
  /** A node-postgres pool on the test database. */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/**
 * Creates database `name`, installs the extension and the seed schema, watches
 * qualification_runs, and points this process at it (PGDATABASE) so that
 * getPrisma() and ActiveRunsNotifier connect there.
 */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}`;
  const admin = new pg.Client({ database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  delete process.env.DATABASE_URL;
  process.env.PGDATABASE = name;
  const pool = new pg.Pool({ database: name, max: 4 });
  await pool.query('CREATE EXTENSION recovery');
  await pool.query(readFileSync(SEED_SCHEMA, 'utf8'));
  await pool.query(`SELECT recovery.watch('qualification_runs')`);
  return {
    name,
    pool,
    async drop() {
      await pool.end();
      const a = new pg.Client({ database: 'postgres' });
      await a.connect();
      try {
        // Let connections that are closing (pools ended a moment ago, Prisma's
        // among them) go by themselves first: FORCE would terminate them, and
        // a client without an error handler then fails the test file after
        // its tests ended. FORCE only for what is still there after 5 s.
        for (let i = 0; i < 100; i++) {
          const { rows } = await a.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (rows[0].n === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await a.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

export interface SeedRun {
  id: string;
  status: 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED';
  total: number;
  done: number;
  /** minutes ago, in UTC as Prisma writes timestamp(3) */
  createdAgo: number;
  updatedAgo: number | null;
}

/** The demo's runs: two stuck at 30 minutes (one also at 60), one alive, one finished. */
export const SEED_RUNS: SeedRun[] = [
  { id: 'cmgz47wkm0005on6t8hxo4b9a', status: 'PROCESSING', total: 10, done: 3, createdAgo: 45, updatedAgo: 45 },
  { id: 'cmgz4a1bc0007on6tq2lz8d1e', status: 'PENDING', total: 5, done: 0, createdAgo: 120, updatedAgo: null },
  { id: 'cmgz4c9xy0009on6t5r7k3m2p', status: 'PROCESSING', total: 10, done: 6, createdAgo: 180, updatedAgo: 1 },
  { id: 'cmgz3z0aa0001on6tb8n4v6w1', status: 'COMPLETED', total: 10, done: 10, createdAgo: 300, updatedAgo: 240 },
];

/** Empties the tables and inserts runs (default SEED_RUNS) under ICP 'icp1' of company Stripe. */
export async function seed(pool: pg.Pool, runs: SeedRun[] = SEED_RUNS): Promise<void> {
  await pool.query('TRUNCATE prospects, qualification_runs, "ICP", "Company" CASCADE');
  await pool.query(`INSERT INTO "Company" VALUES ('c1', 'Stripe', 'stripe.com')`);
  await pool.query(`INSERT INTO "ICP" VALUES ('icp1', 'E-commerce SaaS Companies', 'c1')`);
  for (const r of runs) {
    await pool.query(
      `INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt", "completedAt")
       VALUES ($1, 'icp1', $2::"RunStatus", $3, $4,
               (now() AT TIME ZONE 'UTC') - make_interval(mins => $5::int),
               (now() AT TIME ZONE 'UTC') - make_interval(mins => $6::int),
               CASE WHEN $2 IN ('COMPLETED', 'FAILED') THEN (now() AT TIME ZONE 'UTC') - make_interval(mins => $6::int) END)`,
      [r.id, r.status, r.total, r.done, r.createdAgo, r.updatedAgo],
    );
  }
  await pool.query(
    `INSERT INTO prospects VALUES ('p1', 'cmgz47wkm0005on6t8hxo4b9a', 'shop.example', 87),
                                  ('p2', 'cmgz47wkm0005on6t8hxo4b9a', 'store.example', 42)`,
  );
}

export const STUCK_AT_30 = ['cmgz47wkm0005on6t8hxo4b9a', 'cmgz4a1bc0007on6tq2lz8d1e'];
export const LIVE = 'cmgz4c9xy0009on6t5r7k3m2p';
export const DONE = 'cmgz3z0aa0001on6tb8n4v6w1';

/** status of each run, by id */
export async function statuses(pool: pg.Pool): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ id: string; status: string }>(
    'SELECT id, status::text AS status FROM qualification_runs ORDER BY id',
  );
  return Object.fromEntries(rows.map((r) => [r.id, r.status]));
}

/**
 * Registers the usual lifecycle of a test file: a fresh database before all
 * tests (see createTestDatabase), the seed data again before each test
 * (unless `seedEach` is false), Prisma disconnected and the database dropped
 * after all. The returned object is filled in by the `before` hook; its
 * `ready` resolves then (node 20 runs a file's `before` hooks concurrently, so
 * a later `before` that needs the database awaits `db.ready`).
 */
export function useTestDatabase(prefix: string, { seedEach = true } = {}): TestDatabase & { ready: Promise<void> } {
  let created!: () => void;
  const db = { ready: new Promise<void>((resolve) => (created = resolve)) } as TestDatabase & { ready: Promise<void> };
  before(async () => {
    Object.assign(db, await createTestDatabase(prefix));
    created();
  });
  after(async () => {
    await disconnectPrisma();
    await db.drop();
  });
  if (seedEach) {
    beforeEach(async () => {
      await seed(db.pool);
    });
  }
  return db;
}
