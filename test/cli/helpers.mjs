// Shared by the CLI tests: a fresh database per test file in the throwaway
// cluster that the node suite of scripts/test.sh starts (pg_virtualenv sets PG*), the
// seed's schema and runs, and a way to run bin/recover-stuck-runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/recover-stuck-runs', import.meta.url));
const SEED_SCHEMA = readFileSync(new URL('../../demo/seed-schema.sql', import.meta.url), 'utf8');

/** Runs SQL with psql in database `db`; returns unaligned, tuples-only output. */
export function psql(db, sql) {
  return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', '-'], {
    input: sql,
    encoding: 'utf8',
  }).trim();
}

/** Creates database `cli_<prefix>_<pid>` with the extension and the seed schema (not watched yet). */
export function createDatabase(prefix) {
  const db = `cli_${prefix}_${process.pid}`;
  psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE); CREATE DATABASE ${db};`);
  psql(db, `CREATE EXTENSION recovery;\n${SEED_SCHEMA}`);
  return db;
}

export function dropDatabase(db) {
  psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE);`);
}

export const STUCK_45 = 'cmgz47wkm0005on6t8hxo4b9a'; // PROCESSING 3/10, no activity for 45 minutes
export const STUCK_120 = 'cmgz4a1bc0007on6tq2lz8d1e'; // PENDING 0/5, created 2 hours ago
export const LIVE = 'cmgz4c9xy0009on6t5r7k3m2p'; // PROCESSING, active a minute ago
export const DONE = 'cmgz3z0aa0001on6tb8n4v6w1'; // COMPLETED

/** Empties the tables and inserts the demo's runs (timestamps in UTC, as Prisma writes them). */
export function seed(db) {
  psql(
    db,
    `TRUNCATE prospects, qualification_runs, "ICP", "Company" CASCADE;
     TRUNCATE recovery.history;
     INSERT INTO "Company" VALUES ('c1', 'Stripe', 'stripe.com');
     INSERT INTO "ICP" VALUES ('icp1', 'E-commerce SaaS Companies', 'c1');
     INSERT INTO qualification_runs (id, "icpId", status, "totalProspects", completed, "createdAt", "updatedAt", "completedAt")
     SELECT id, 'icp1', status::"RunStatus", total, done,
            (now() AT TIME ZONE 'UTC') - created, (now() AT TIME ZONE 'UTC') - updated,
            CASE WHEN status IN ('COMPLETED', 'FAILED') THEN (now() AT TIME ZONE 'UTC') - updated END
     FROM (VALUES
         ('${STUCK_45}', 'PROCESSING', 10, 3, interval '45 minutes', interval '45 minutes'),
         ('${STUCK_120}', 'PENDING', 5, 0, interval '2 hours', NULL),
         ('${LIVE}', 'PROCESSING', 10, 6, interval '3 hours', interval '1 minute'),
         ('${DONE}', 'COMPLETED', 10, 10, interval '5 hours', interval '4 hours')
     ) AS v(id, status, total, done, created, updated);`,
  );
}

/** Runs the CLI in database `db`: { status, stdout, stderr }. `env` entries set to undefined are removed. */
export function run(db, args = [], env = {}) {
  const merged = { ...process.env, PGDATABASE: db, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  const r = spawnSync(CLI, args, { env: merged, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** { id: status } of qualification_runs */
export function statuses(db) {
  const out = psql(db, `SELECT id || '=' || status FROM qualification_runs ORDER BY id`);
  return Object.fromEntries(out.split('\n').map((l) => l.split('=')));
}
