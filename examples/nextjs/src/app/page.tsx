// The page at /: the active (PENDING/PROCESSING) runs, the seed's "active run"
// notification. Rendered on the server from the table, then kept live in the
// browser by <ActiveRuns> over server-sent events: a run that recovery marks
// FAILED leaves the list without a reload.
import { getActiveRunsHub, type ActiveRunJson } from '../lib/active-runs-hub.ts';
import { ActiveRuns } from './active-runs.tsx';

// Reads the database on every request: never pre-rendered at build time
// (next build has no database to reach).
export const dynamic = 'force-dynamic';

export default async function Page() {
  let runs: ActiveRunJson[] | null = null;
  try {
    runs = await getActiveRunsHub().snapshot();
  } catch (error) {
    console.error('active runs: reading the runs failed:', error);
  }
  return (
    <main>
      <h1>Active runs</h1>
      <p className="lead">Qualification runs in progress. A run that recovery marks FAILED disappears from this list.</p>
      {runs === null ? <p className="error">Could not read the active runs; retrying…</p> : null}
      <ActiveRuns initialRuns={runs ?? []} />
    </main>
  );
}
