// The app's in-memory list of active runs (what the seed's "active run"
// notification shows), kept honest by the extension: every run that
// recovery.recover_stuck_runs() marks FAILED — from this app, psql, pg_cron or
// the recover-stuck-runs tool — arrives as a `NOTIFY recovery` and is dropped.
//
// LISTEN needs one dedicated connection, so this uses node-postgres directly
// (a pooled Prisma connection cannot stay LISTENing).
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { RunStatus } from '../generated/prisma/enums.ts';

/** The JSON payload of `NOTIFY recovery`. */
export interface RecoveryNotification {
  run_table: string; // schema-qualified: 'public.qualification_runs'
  run_id: string;
  previous_status: string;
  new_status: string;
}

export interface ActiveRun {
  id: string;
  status: RunStatus;
  completed: number;
  totalProspects: number;
  createdAt: Date;
}

export interface ActiveRunsNotifierOptions {
  /** How the extension names the table in payloads. Default 'public.qualification_runs'. */
  runTable?: string;
  /** node-postgres settings; default: DATABASE_URL, else the PG* variables. */
  connection?: pg.ClientConfig;
}

export interface ActiveRunsNotifierEvents {
  /** A run of our table was recovered; `run` is what the list held (undefined if it was not listed). */
  recovered: [notification: RecoveryNotification, run: ActiveRun | undefined];
  error: [error: Error];
}

const ACTIVE: RunStatus[] = [RunStatus.PENDING, RunStatus.PROCESSING];

export class ActiveRunsNotifier extends EventEmitter<ActiveRunsNotifierEvents> {
  readonly runTable: string;
  private readonly connection: pg.ClientConfig;
  private readonly active = new Map<string, ActiveRun>();
  private client: pg.Client | undefined;
  /** Runs recovered while reload() is reading the table (see reload). */
  private recoveredDuringReload: Set<string> | undefined;

  constructor(options: ActiveRunsNotifierOptions = {}) {
    super();
    this.runTable = options.runTable ?? 'public.qualification_runs';
    this.connection =
      options.connection ?? (process.env.DATABASE_URL ? { connectionString: process.env.DATABASE_URL } : {});
  }

  /**
   * Connects, LISTENs, then loads the active runs (in that order, so no
   * recovery is missed). After an 'error' event, call start() again.
   */
  async start(): Promise<void> {
    if (this.client) return;
    const client = new pg.Client({ application_name: 'active-runs-notifier', ...this.connection });
    client.on('notification', (message) => this.onNotification(message));
    let failed = false;
    client.on('error', (error) => {
      // The connection is unusable (server restart, terminated backend): forget
      // it so that start() can connect again, and tell the app, once (node-postgres
      // reports the server's FATAL, then the closed socket).
      if (this.client === client) this.client = undefined;
      if (!failed) this.emit('error', error);
      failed = true;
    });
    client.on('end', () => {
      if (this.client === client) this.client = undefined;
    });
    await client.connect();
    this.client = client;
    try {
      await client.query('LISTEN recovery');
      await this.reload();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  get listening(): boolean {
    return this.client !== undefined;
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.end();
  }

  /** Re-reads the PENDING/PROCESSING runs from the table. */
  async reload(): Promise<void> {
    if (!this.client) throw new Error('ActiveRunsNotifier is not started');
    const recovered = new Set<string>();
    this.recoveredDuringReload = recovered;
    try {
      // "createdAt" is timestamp(3) holding UTC (Prisma's convention): node-postgres
      // would read a zone-less timestamp as local time, so make it timestamptz first.
      const { rows } = await this.client.query<ActiveRun>(
        `SELECT id, status::text AS status, completed, "totalProspects",
                "createdAt" AT TIME ZONE 'UTC' AS "createdAt"
         FROM qualification_runs
         WHERE status::text = ANY($1::text[])
         ORDER BY "createdAt", id`,
        [ACTIVE],
      );
      this.active.clear();
      // A recovery that committed after this SELECT's snapshot can be delivered
      // in the same network read as its result, before we get here.
      for (const run of rows) if (!recovered.has(run.id)) this.active.set(run.id, run);
    } finally {
      this.recoveredDuringReload = undefined;
    }
  }

  /** The app started a run. */
  track(run: ActiveRun): void {
    this.active.set(run.id, run);
  }

  /** The app finished a run itself. */
  untrack(id: string): boolean {
    return this.active.delete(id);
  }

  has(id: string): boolean {
    return this.active.has(id);
  }

  /** The active runs, oldest first. */
  list(): ActiveRun[] {
    return [...this.active.values()].sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id),
    );
  }

  private onNotification(message: pg.Notification): void {
    if (message.channel !== 'recovery' || !message.payload) return;
    let notification: RecoveryNotification;
    try {
      notification = JSON.parse(message.payload) as RecoveryNotification;
    } catch {
      this.emit('error', new Error(`recovery: payload is not JSON: ${message.payload}`));
      return;
    }
    if (notification.run_table !== this.runTable) return;
    this.recoveredDuringReload?.add(notification.run_id);
    const run = this.active.get(notification.run_id);
    this.active.delete(notification.run_id);
    this.emit('recovered', notification, run);
  }
}
