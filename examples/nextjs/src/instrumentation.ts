// Next.js calls register() once when a server process boots (next start, next
// dev), before it serves a request. In the Node.js runtime, the process
// becomes a recovery app instance: see src/lib/app-instance.ts.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { handleShutdownSignals, startAppInstance } = await import('./lib/app-instance.ts');
  handleShutdownSignals();
  // Do not hold the boot up if the database is down: the start is retried.
  await startAppInstance().catch(() => undefined);
}
