// This server process as a recovery *app instance* (README.md, "App
// instances"): one incarnation per process, started at boot by
// src/instrumentation.ts, renewed every lease/3, stopped on SIGTERM/SIGINT.
//
//   startAppInstance()  recovery.instance_start(name, lease): the token, kept in memory
//   heartbeat           recovery.instance_heartbeat(token) every lease/3 (timer unref'd);
//                       false = the incarnation ended (superseded, lapsed, stopped):
//                       its runs were recovered, so log it and start a new incarnation
//   stopAppInstance()   recovery.instance_stop(token): the runs it claimed are given up at once
//   claimRun(runId)     recovery.claim(..., instance => token): a claim of the
//                       incarnation, not of a session, so any pooled connection will do
//
// Name: RECOVERY_INSTANCE, else the host name. Lease: RECOVERY_INSTANCE_LEASE
// in seconds (default 30).
import { hostname } from 'node:os';
import { getPrisma } from './prisma.ts';
import { RUN_TABLE } from './background-recovery.ts';

export const DEFAULT_LEASE_SECONDS = 30;
/** How long a failed instance_start waits before trying again. */
const RETRY_MS = 5_000;
/** At most this long for instance_stop on shutdown; then exit anyway. */
const STOP_TIMEOUT_MS = 5_000;

export interface AppInstanceConfig {
  name: string;
  leaseSeconds: number;
}

export function appInstanceConfig(env: NodeJS.ProcessEnv = process.env): AppInstanceConfig {
  const name = env.RECOVERY_INSTANCE?.trim() || hostname();
  const raw = env.RECOVERY_INSTANCE_LEASE?.trim();
  const leaseSeconds = raw ? Number(raw) : DEFAULT_LEASE_SECONDS;
  if (!Number.isFinite(leaseSeconds) || leaseSeconds <= 0) {
    throw new Error(`RECOVERY_INSTANCE_LEASE must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  }
  return { name, leaseSeconds };
}

interface State {
  config: AppInstanceConfig;
  token: string | undefined;
  incarnations: number;
  timer: NodeJS.Timeout | undefined;
  starting: Promise<string> | undefined;
  stopping: Promise<void> | undefined;
}

const globalForInstance = globalThis as unknown as { recoveryAppInstance?: State };

function state(): State | undefined {
  return globalForInstance.recoveryAppInstance;
}

/** The current incarnation's token (undefined before the first start and after the stop). */
export function appInstanceToken(): string | undefined {
  return state()?.token;
}

async function instanceStart(config: AppInstanceConfig): Promise<string> {
  const rows = await getPrisma().$queryRaw<{ token: string }[]>`
    SELECT recovery.instance_start(${config.name}, make_interval(secs => ${config.leaseSeconds}::float8)) AS token`;
  return rows[0]!.token;
}

/**
 * Starts this process's incarnation (once per process; later calls return the
 * same start). A failed start is retried every 5 s in the background; the
 * returned promise rejects with the first failure.
 */
export function startAppInstance(config: AppInstanceConfig = appInstanceConfig()): Promise<string> {
  const existing = state();
  if (existing?.starting) return existing.starting;
  if (existing?.token) return Promise.resolve(existing.token);
  const s: State = existing ?? { config, token: undefined, incarnations: 0, timer: undefined, starting: undefined, stopping: undefined };
  globalForInstance.recoveryAppInstance = s;
  s.starting = begin(s).finally(() => (s.starting = undefined));
  return s.starting;
}

async function begin(s: State): Promise<string> {
  try {
    const token = await instanceStart(s.config);
    if (s.stopping) {
      // SIGTERM arrived while starting: end the incarnation we just got.
      await stopToken(token);
      throw new Error('recovery: the app instance is stopping');
    }
    s.token = token;
    s.incarnations += 1;
    console.log(
      `recovery: app instance ${JSON.stringify(s.config.name)} started (incarnation ${s.incarnations}, lease ${s.config.leaseSeconds} s)`,
    );
    schedule(s, (s.config.leaseSeconds * 1000) / 3);
    return token;
  } catch (error) {
    if (!s.stopping) {
      console.error(`recovery: instance_start(${JSON.stringify(s.config.name)}) failed, retrying in ${RETRY_MS / 1000} s:`, (error as Error).message);
      schedule(s, RETRY_MS);
    }
    throw error;
  }
}

function schedule(s: State, ms: number): void {
  clearTimeout(s.timer);
  s.timer = setTimeout(() => void tick(s), ms);
  s.timer.unref();
}

async function tick(s: State): Promise<void> {
  s.timer = undefined;
  if (s.stopping) return;
  if (!s.token) {
    // the start failed: try again
    s.starting ??= begin(s).finally(() => (s.starting = undefined));
    await s.starting.catch(() => undefined);
    return;
  }
  const token = s.token;
  let alive: boolean;
  try {
    const rows = await getPrisma().$queryRaw<{ alive: boolean }[]>`SELECT recovery.instance_heartbeat(${token}) AS alive`;
    alive = rows[0]!.alive;
  } catch (error) {
    // The database is unreachable: keep the token and try at the next beat
    // (the lease is three beats long).
    console.error('recovery: instance_heartbeat failed:', (error as Error).message);
    if (!s.stopping) schedule(s, (s.config.leaseSeconds * 1000) / 3);
    return;
  }
  if (s.stopping || s.token !== token) return;
  if (alive) {
    schedule(s, (s.config.leaseSeconds * 1000) / 3);
    return;
  }
  console.warn(
    `recovery: app instance ${JSON.stringify(s.config.name)}: the incarnation has ended (superseded, stopped or lapsed; its runs were recovered): starting a new one`,
  );
  s.token = undefined;
  s.starting ??= begin(s).finally(() => (s.starting = undefined));
  await s.starting.catch(() => undefined);
}

async function stopToken(token: string): Promise<number> {
  const rows = await getPrisma().$queryRaw<{ released: number }[]>`SELECT recovery.instance_stop(${token}) AS released`;
  return rows[0]!.released;
}

/** Ends the incarnation (graceful shutdown): its claimed runs are given up at once. */
export function stopAppInstance(): Promise<void> {
  const s = state();
  if (!s) return Promise.resolve();
  s.stopping ??= (async () => {
    clearTimeout(s.timer);
    s.timer = undefined;
    await s.starting?.catch(() => undefined);
    const token = s.token;
    s.token = undefined;
    if (!token) return;
    const released = await stopToken(token);
    console.log(`recovery: app instance ${JSON.stringify(s.config.name)} stopped (${released} claimed runs given up)`);
  })();
  return s.stopping;
}

/**
 * SIGTERM/SIGINT: instance_stop (at most 5 s), then exit 143/130 as Next.js
 * does. `npm start` sets NEXT_MANUAL_SIG_HANDLE, so Next.js registers no
 * handler of its own that would exit before the stop is sent.
 */
export function handleShutdownSignals(): void {
  const g = globalThis as unknown as { recoveryShutdownHandlers?: boolean };
  if (g.recoveryShutdownHandlers) return;
  g.recoveryShutdownHandlers = true;
  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    process.once(signal, () => {
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref());
      Promise.race([stopAppInstance(), timeout])
        .catch((error) => console.error('recovery: instance_stop failed:', (error as Error).message))
        .finally(() => process.exit(code));
    });
  }
}

/**
 * Claims run `runId` of qualification_runs for this incarnation (call it when
 * the app starts working on the run). Returns recovery.claim's answer.
 */
export async function claimRun(runId: string): Promise<boolean> {
  const token = appInstanceToken() ?? (await startAppInstance());
  const rows = await getPrisma().$queryRaw<{ claimed: boolean }[]>`
    SELECT recovery.claim(${RUN_TABLE}::regclass, ${runId}, instance => ${token}) AS claimed`;
  return rows[0]!.claimed;
}
