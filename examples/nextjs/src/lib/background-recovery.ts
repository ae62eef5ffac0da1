// Stuck-run recovery for the seed app, on top of the `recovery` extension.
//
// The seed's own module found stuck runs with a findMany and marked them
// FAILED with an updateMany. Both now happen inside PostgreSQL: the extension
// re-checks every run in its UPDATE, skips rows the app is writing right now,
// writes recovery.history and sends NOTIFY recovery, in one transaction.
//
// Every query is a $queryRaw tagged template: the timeout and the table are
// bound parameters ($1, $2), never spliced into the SQL text.
//
// timestamptz columns are selected `AT TIME ZONE 'UTC'`: @prisma/adapter-pg
// (7.10) reads a timestamptz by relabelling its offset as +00:00 instead of
// converting it, so in a session whose TimeZone is not UTC (Debian's initdb
// copies the machine's zone) the Date would be hours off (prisma/orm#26786).
// A zone-less timestamp holding UTC is what Prisma reads correctly everywhere.
//
// Once, at deploy time (by the table's owner):  SELECT recovery.watch('qualification_runs');
import type { PrismaClient, QualificationRun } from '../generated/prisma/client.ts';
import { RunStatus } from '../generated/prisma/enums.ts';
import { getPrisma } from './prisma.ts';

/** The table QualificationRun maps to (@@map in prisma/schema.prisma). */
export const RUN_TABLE = 'qualification_runs';
export const DEFAULT_TIMEOUT_MINUTES = 30;
/** One year: anything longer is a typo, not a timeout. */
export const MAX_TIMEOUT_MINUTES = 525_600;

/** A timeout that is not a whole number of minutes in 1..MAX_TIMEOUT_MINUTES. */
export class InvalidTimeoutError extends Error {
  override name = 'InvalidTimeoutError';
}

/**
 * Reads a timeout in minutes: a number, or a string of digits (query string).
 * `undefined`, `null` and `''` mean the default (30 minutes).
 */
export function parseTimeout(value: unknown): number {
  if (value === undefined || value === null || value === '') return DEFAULT_TIMEOUT_MINUTES;
  let minutes: number | undefined;
  if (typeof value === 'number') minutes = value;
  else if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) minutes = Number(value);
  if (minutes === undefined || !Number.isSafeInteger(minutes) || minutes < 1 || minutes > MAX_TIMEOUT_MINUTES) {
    throw new InvalidTimeoutError(
      `timeout must be a whole number of minutes from 1 to ${MAX_TIMEOUT_MINUTES}, got ${describe(value)}`,
    );
  }
  return minutes;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/** A run that has been PENDING/PROCESSING with no activity for longer than the timeout. */
export interface StuckRun {
  runTable: string; // as the extension names it: 'public.qualification_runs'
  runId: string;
  status: RunStatus;
  startedAt: Date;
  lastActivityAt: Date; // the later of createdAt and updatedAt
  stuckFor: number; // whole minutes since lastActivityAt
  reason: string;
  run: QualificationRun; // the row, typed as Prisma types it
}

/** A run recover_stuck_runs just marked FAILED. */
export interface RecoveredRun {
  runTable: string;
  runId: string;
  previousStatus: RunStatus;
  newStatus: RunStatus;
  startedAt: Date;
  stuckFor: number;
  reason: string;
  recoveredAt: Date;
  run: QualificationRun; // the row after the change (status FAILED, completedAt set)
}

/** One run in the seed's HTTP bodies: the row as Response.json writes it, plus its ICP and stuckFor. */
export interface RunBody {
  id: string;
  icpId: string;
  status: RunStatus;
  totalProspects: number;
  completed: number;
  createdAt: string; // ISO 8601 UTC, as JSON.stringify(Date)
  updatedAt: string | null;
  completedAt: string | null;
  icp: { title: string; company: { name: string; domain: string } } | null;
  stuckFor: number;
}

/** GET /api/qualify/recovery */
export interface StuckRunsBody {
  success: true;
  count: number;
  runs: RunBody[];
}

/** POST /api/qualify/recovery */
export interface RecoverStuckRunsBody {
  success: true;
  message: string;
  recovered: number;
  runs: RunBody[];
}

export interface ErrorBody {
  success: false;
  error: string;
}

type Json = Record<string, unknown>;

/** What these functions need: the shared client, or `tx` inside prisma.$transaction(). */
export type Db = Pick<PrismaClient, '$queryRaw' | 'iCP'>;

/**
 * Registers qualification_runs with the extension (idempotent; only the
 * table's owner may). Returns true when the table was not watched before.
 */
export async function watchRunTable(db: Db = getPrisma()): Promise<boolean> {
  const rows = await db.$queryRaw<{ newly: boolean }[]>`
    SELECT recovery.watch(${RUN_TABLE}::regclass) AS newly`;
  return rows[0].newly;
}

/** What is stuck, changing nothing (the seed's --check-only). Oldest first. */
export async function findStuckRuns(
  timeoutMinutes: number = DEFAULT_TIMEOUT_MINUTES,
  db: Db = getPrisma(),
): Promise<StuckRun[]> {
  const minutes = parseTimeout(timeoutMinutes);
  const rows = await db.$queryRaw<
    {
      run_table: string;
      run_id: string;
      status: string;
      started_at: Date;
      last_activity_at: Date;
      stuck_minutes: number;
      reason: string;
      run: Json;
    }[]
  >`
    SELECT run_table, run_id, status,
           started_at AT TIME ZONE 'UTC' AS started_at,
           last_activity_at AT TIME ZONE 'UTC' AS last_activity_at,
           stuck_minutes, reason, run
    FROM recovery.find_stuck_runs(timeout => make_interval(mins => ${minutes}::int),
                                  run_table => ${RUN_TABLE}::regclass)`;
  return rows.map((r) => ({
    runTable: r.run_table,
    runId: r.run_id,
    status: toRunStatus(r.status),
    startedAt: r.started_at,
    lastActivityAt: r.last_activity_at,
    stuckFor: r.stuck_minutes,
    reason: r.reason,
    run: toQualificationRun(r.run),
  }));
}

/** Marks every stuck run FAILED and sets completedAt, in one transaction. */
export async function recoverStuckRuns(
  timeoutMinutes: number = DEFAULT_TIMEOUT_MINUTES,
  db: Db = getPrisma(),
): Promise<RecoveredRun[]> {
  const minutes = parseTimeout(timeoutMinutes);
  const rows = await db.$queryRaw<
    {
      run_table: string;
      run_id: string;
      previous_status: string;
      new_status: string;
      started_at: Date;
      stuck_minutes: number;
      reason: string;
      recovered_at: Date;
      run: Json;
    }[]
  >`
    SELECT run_table, run_id, previous_status, new_status,
           started_at AT TIME ZONE 'UTC' AS started_at,
           stuck_minutes, reason,
           recovered_at AT TIME ZONE 'UTC' AS recovered_at,
           run
    FROM recovery.recover_stuck_runs(timeout => make_interval(mins => ${minutes}::int),
                                     run_table => ${RUN_TABLE}::regclass)`;
  return rows.map((r) => ({
    runTable: r.run_table,
    runId: r.run_id,
    previousStatus: toRunStatus(r.previous_status),
    newStatus: toRunStatus(r.new_status),
    startedAt: r.started_at,
    stuckFor: r.stuck_minutes,
    reason: r.reason,
    recoveredAt: r.recovered_at,
    run: toQualificationRun(r.run),
  }));
}

/** The body of GET /api/qualify/recovery, from recovery.stuck_runs_report(). */
export async function stuckRunsReport(
  timeoutMinutes: number = DEFAULT_TIMEOUT_MINUTES,
  db: Db = getPrisma(),
): Promise<StuckRunsBody> {
  const minutes = parseTimeout(timeoutMinutes);
  const [{ body }] = await db.$queryRaw<[{ body: { count: number; runs: Json[] } }]>`
    SELECT recovery.stuck_runs_report(timeout => make_interval(mins => ${minutes}::int),
                                      run_table => ${RUN_TABLE}::regclass) AS body`;
  return { success: true, count: body.count, runs: await toRunBodies(db, body.runs) };
}

/** The body of POST /api/qualify/recovery, from recovery.recover_stuck_runs_report(). */
export async function recoverStuckRunsReport(
  timeoutMinutes: number = DEFAULT_TIMEOUT_MINUTES,
  db: Db = getPrisma(),
): Promise<RecoverStuckRunsBody> {
  const minutes = parseTimeout(timeoutMinutes);
  const [{ body }] = await db.$queryRaw<[{ body: { message: string; recovered: number; runs: Json[] } }]>`
    SELECT recovery.recover_stuck_runs_report(timeout => make_interval(mins => ${minutes}::int),
                                              run_table => ${RUN_TABLE}::regclass) AS body`;
  return {
    success: true,
    message: body.message,
    recovered: body.recovered,
    runs: await toRunBodies(db, body.runs),
  };
}

// --- from the extension's JSON to Prisma's types ---------------------------

const RUN_STATUSES = new Set<string>(Object.values(RunStatus));

function toRunStatus(value: unknown): RunStatus {
  if (typeof value !== 'string' || !RUN_STATUSES.has(value)) {
    throw new TypeError(`not a RunStatus: ${JSON.stringify(value)}`);
  }
  return value as RunStatus;
}

function toText(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new TypeError(`${field}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

function toInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${field}: expected an integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The extension's JSON writes every timestamp as a UTC instant ending in Z
 * ("2025-10-20T10:00:00.123Z"), whatever the column type or the session's
 * TimeZone, so `new Date(text)` reads it right in any process zone.
 */
function toDate(value: unknown, field: string): Date {
  const text = toText(value, field);
  const date = new Date(text);
  if (!text.endsWith('Z') || Number.isNaN(date.getTime())) {
    throw new TypeError(`${field}: not a UTC instant: ${JSON.stringify(value)}`);
  }
  return date;
}

function toNullableDate(value: unknown, field: string): Date | null {
  return value === null || value === undefined ? null : toDate(value, field);
}

/** One row of the extension's `run` JSON as Prisma's QualificationRun (the compiler checks every field). */
export function toQualificationRun(row: Json): QualificationRun {
  return {
    id: toText(row.id, 'id'),
    icpId: toText(row.icpId, 'icpId'),
    status: toRunStatus(row.status),
    totalProspects: toInt(row.totalProspects, 'totalProspects'),
    completed: toInt(row.completed, 'completed'),
    createdAt: toDate(row.createdAt, 'createdAt'),
    updatedAt: toNullableDate(row.updatedAt, 'updatedAt'),
    completedAt: toNullableDate(row.completedAt, 'completedAt'),
  } satisfies Record<keyof QualificationRun, unknown>;
}

/** Report runs (row fields + stuckFor) as the seed's bodies: ISO UTC times, with the ICP and its company. */
async function toRunBodies(db: Db, reportRuns: Json[]): Promise<RunBody[]> {
  const runs = reportRuns.map((r) => ({ run: toQualificationRun(r), stuckFor: toInt(r.stuckFor, 'stuckFor') }));
  const icpIds = [...new Set(runs.map((r) => r.run.icpId))];
  const icps =
    icpIds.length === 0
      ? []
      : await db.iCP.findMany({
          where: { id: { in: icpIds } },
          select: { id: true, title: true, company: { select: { name: true, domain: true } } },
        });
  const icpById = new Map(icps.map(({ id, ...icp }) => [id, icp]));
  return runs.map(({ run, stuckFor }) => ({
    id: run.id,
    icpId: run.icpId,
    status: run.status,
    totalProspects: run.totalProspects,
    completed: run.completed,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt?.toISOString() ?? null,
    completedAt: run.completedAt?.toISOString() ?? null,
    icp: icpById.get(run.icpId) ?? null,
    stuckFor,
  }));
}
