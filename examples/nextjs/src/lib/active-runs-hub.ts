// The server side of the page's live list of active runs: ONE ActiveRunsNotifier
// (one LISTEN recovery connection) per server process, shared by every page
// render and every open event stream (src/app/api/active-runs/events/route.ts).
//
//   snapshot()   the PENDING/PROCESSING runs, re-read from the table now
//   subscribe()  every later change: a run recovered (by this app, psql, pg_cron,
//                recover-stuck-runs...), or a fresh snapshot after a reconnect
//
// The notifier LISTENs before it reads the table, so a subscriber that
// subscribes, then takes a snapshot, misses no recovery.
import { ActiveRunsNotifier, type ActiveRun } from './active-runs-notifier.ts';

/** An active run as the page gets it (JSON: the time as ISO 8601 UTC). */
export interface ActiveRunJson {
  id: string;
  status: string;
  completed: number;
  totalProspects: number;
  createdAt: string;
}

export type ActiveRunsEvent =
  | { type: 'snapshot'; runs: ActiveRunJson[] }
  | { type: 'recovered'; runId: string; previousStatus: string; newStatus: string };

type Listener = (event: ActiveRunsEvent) => void;

/** How long to wait before reconnecting after the LISTEN connection dropped. */
const RECONNECT_MS = 1000;

export function toJson(run: ActiveRun): ActiveRunJson {
  return {
    id: run.id,
    status: run.status,
    completed: run.completed,
    totalProspects: run.totalProspects,
    createdAt: run.createdAt.toISOString(),
  };
}

export class ActiveRunsHub {
  private readonly notifier = new ActiveRunsNotifier();
  private readonly listeners = new Set<Listener>();
  private starting: Promise<void> | undefined;
  /** reload() calls one at a time (the notifier reads into one list). */
  private queue: Promise<unknown> = Promise.resolve();
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor() {
    this.notifier.on('recovered', (n) => {
      this.broadcast({ type: 'recovered', runId: n.run_id, previousStatus: n.previous_status, newStatus: n.new_status });
    });
    this.notifier.on('error', (error) => {
      console.error('active runs: the LISTEN connection failed, reconnecting:', error.message);
      this.scheduleReconnect();
    });
  }

  /** The active runs, oldest first, read from the table now. */
  async snapshot(): Promise<ActiveRunJson[]> {
    await this.start();
    const run = this.queue.then(async () => {
      await this.notifier.reload();
      return this.notifier.list().map(toJson);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Calls `listener` for every later event; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  async stop(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.listeners.clear();
    await this.notifier.stop();
  }

  private async start(): Promise<void> {
    if (this.notifier.listening) return;
    this.starting ??= this.notifier.start().finally(() => (this.starting = undefined));
    await this.starting;
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(async () => {
      this.reconnectTimer = undefined;
      if (this.listeners.size === 0) return; // the next snapshot() connects
      try {
        this.broadcast({ type: 'snapshot', runs: await this.snapshot() });
      } catch (error) {
        console.error('active runs: reconnecting failed:', (error as Error).message);
        this.scheduleReconnect();
      }
    }, RECONNECT_MS);
    this.reconnectTimer.unref();
  }

  private broadcast(event: ActiveRunsEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        console.error('active runs: a subscriber failed:', error);
      }
    }
  }
}

const globalForHub = globalThis as unknown as { recoveryActiveRunsHub?: ActiveRunsHub };

/** The process's hub (kept on globalThis so dev-server hot reloads reuse it). */
export function getActiveRunsHub(): ActiveRunsHub {
  globalForHub.recoveryActiveRunsHub ??= new ActiveRunsHub();
  return globalForHub.recoveryActiveRunsHub;
}
