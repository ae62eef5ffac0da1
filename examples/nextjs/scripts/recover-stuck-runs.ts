// The seed's CLI, in the app:
//   npm run recover-stuck-runs -- --check-only     list the stuck runs, change nothing
//   npm run recover-stuck-runs                     mark them FAILED (runs stuck > 30 minutes)
//   npm run recover-stuck-runs -- --timeout=60     ... stuck for more than 60 minutes
//
// Thin calls to the extension through src/lib/background-recovery.ts (the same
// functions as the API route): recovery.stuck_runs_report() and
// recovery.recover_stuck_runs(), which re-check each run, write
// recovery.history and NOTIFY recovery (so the open page drops the runs).
// The database: DATABASE_URL, else libpq's PG* variables.
//
// Exit status: 0 done (whether or not anything was stuck), 2 bad option or
// error (nothing changed). For cron and exit codes that tell "found something"
// apart, use the extension's own tool, bin/recover-stuck-runs.
import {
  DEFAULT_TIMEOUT_MINUTES,
  InvalidTimeoutError,
  parseTimeout,
  recoverStuckRuns,
  stuckRunsReport,
} from '../src/lib/background-recovery.ts';
import { disconnectPrisma } from '../src/lib/prisma.ts';

const USAGE = `Usage: npm run recover-stuck-runs -- [--check-only] [--timeout=MINUTES]

Finds qualification runs left PENDING/PROCESSING with no activity for
MINUTES (default ${DEFAULT_TIMEOUT_MINUTES}) and marks them FAILED, through the recovery extension.

  --check-only        list the stuck runs, change nothing
  --timeout=MINUTES   a whole number of minutes from 1 to 525600 (--timeout MINUTES works too)
  --help              this text

The database: DATABASE_URL, else PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.`;

class UsageError extends Error {}

interface Options {
  checkOnly: boolean;
  timeout: number;
  help: boolean;
}

export function parseArgs(argv: string[]): Options {
  const options: Options = { checkOnly: false, timeout: DEFAULT_TIMEOUT_MINUTES, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check-only') options.checkOnly = true;
    else if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg.startsWith('--timeout=')) options.timeout = parseTimeout(arg.slice('--timeout='.length) || 'missing');
    else if (arg === '--timeout') {
      if (i + 1 >= argv.length) throw new UsageError('--timeout needs a number of minutes');
      options.timeout = parseTimeout(argv[++i]);
    } else throw new UsageError(`unknown option ${JSON.stringify(arg)} (see --help)`);
  }
  return options;
}

/** 2025-10-20T10:00:00Z, as the seed prints it. */
function time(iso: string | Date): string {
  return (typeof iso === 'string' ? iso : iso.toISOString()).replace(/\.\d{3}Z$/, 'Z');
}

async function checkOnly(timeout: number): Promise<string[]> {
  const report = await stuckRunsReport(timeout);
  if (report.count === 0) return [`✅ No stuck runs found (no activity for ${timeout} minutes).`];
  const lines = [`⚠️  Found ${report.count} stuck run(s):`, ''];
  report.runs.forEach((run, i) => {
    lines.push(
      `${i + 1}. Run ID: ${run.id}`,
      `   Status: ${run.status}`,
      `   Progress: ${run.completed}/${run.totalProspects}`,
      `   ICP: ${run.icp?.title ?? '(unknown)'}`,
      `   Company: ${run.icp?.company.name ?? '(unknown)'}`,
      `   Created: ${time(run.createdAt)}`,
      `   Stuck for: ${run.stuckFor} minutes`,
      '',
    );
  });
  lines.push('Run without --check-only to mark them as FAILED.');
  return lines;
}

async function recover(timeout: number): Promise<string[]> {
  const recovered = await recoverStuckRuns(timeout);
  if (recovered.length === 0) return [`✅ No stuck runs to recover (no activity for ${timeout} minutes).`];
  const lines = [`✅ Recovered ${recovered.length} stuck run(s):`, ''];
  recovered.forEach((r, i) => {
    lines.push(
      `${i + 1}. Run ID: ${r.runId}`,
      `   Status: ${r.previousStatus} → ${r.newStatus}`,
      `   Progress: ${r.run.completed}/${r.run.totalProspects}`,
      `   Created: ${time(r.run.createdAt)}`,
      '',
    );
  });
  lines.push('All stuck runs have been marked as FAILED ✅');
  return lines;
}

/** PostgreSQL's message out of Prisma's several-line "Invalid `prisma.$queryRaw()` invocation: ..." text. */
function oneLine(error: Error): string {
  const text = String(error.message ?? error);
  const postgres = /Code: `(\w+)`\. Message: `([^`]*)`/.exec(text);
  if (postgres) return `${postgres[2]} (SQLSTATE ${postgres[1]})`;
  return text.split('\n').map((line) => line.trim()).filter(Boolean).pop() ?? 'failed';
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidTimeoutError) {
      console.error(`recover-stuck-runs: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    const lines = options.checkOnly ? await checkOnly(options.timeout) : await recover(options.timeout);
    console.log(lines.join('\n'));
    return 0;
  } catch (error) {
    console.error(`recover-stuck-runs: ${oneLine(error as Error)}`);
    return 2;
  } finally {
    await disconnectPrisma();
  }
}

process.exitCode = await main(process.argv.slice(2));
