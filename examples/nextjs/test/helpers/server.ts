// The built app (`npm run build` first: scripts/test.sh node does), started
// with `npm start` as a user would, on a free port, against a test database.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const APP_DIR = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningApp {
  url: string;
  port: number;
  /** Everything the server printed so far. */
  output(): string;
  /**
   * SIGTERM to npm and the server (one process group), as a process manager
   * would stop it; resolves with npm's exit code or signal once nothing listens
   * on the port any more (SIGKILL after 10 s).
   */
  stop(): Promise<number | string | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts a new TCP connection on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** postgresql://user:password@host:port/database from the PG* variables pg_virtualenv sets. */
export function databaseUrl(database: string): string {
  const env = process.env;
  const user = encodeURIComponent(env.PGUSER ?? 'postgres');
  const password = env.PGPASSWORD ? `:${encodeURIComponent(env.PGPASSWORD)}` : '';
  const host = env.PGHOST && !env.PGHOST.startsWith('/') ? env.PGHOST : 'localhost';
  return `postgresql://${user}${password}@${host}:${env.PGPORT ?? 5432}/${encodeURIComponent(database)}`;
}

/**
 * `DATABASE_URL=… PORT=… npm start` in the app directory. The PG* database
 * variables are removed from its environment, so it can only find the
 * database through DATABASE_URL. `extraEnv` adds variables (RECOVERY_INSTANCE...).
 */
export async function startApp(database: string, extraEnv: Record<string, string> = {}): Promise<RunningApp> {
  if (!existsSync(`${APP_DIR}/.next/BUILD_ID`)) {
    throw new Error(`the app is not built: run \`npm run build\` in ${APP_DIR}`);
  }
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl(database), PORT: String(port), ...extraEnv };
  for (const name of ['PGDATABASE', 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD']) delete env[name];
  const child: ChildProcess = spawn('npm', ['start', '--silent'], {
    cwd: APP_DIR,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npm, sh and next stop together
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal)),
  );
  const url = `http://127.0.0.1:${port}`;
  const app: RunningApp = {
    url,
    port,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }, 10_000);
      const result = await exited;
      while (await listening(port)) await new Promise((resolve) => setTimeout(resolve, 50));
      clearTimeout(timer);
      return result;
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
    try {
      const response = await fetch(`${url}/api/qualify/recovery?timeout=525600`);
      await response.arrayBuffer();
      return app;
    } catch {
      if (Date.now() > deadline) {
        await app.stop();
        throw new Error(`the app did not answer on ${url} within 60 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
