// GET /api/active-runs   {"success": true, "runs": [...], "openStreams": N}: what the
// page lists, as JSON, and how many event streams this server process has open.
import { getActiveRunsHub } from '../../../lib/active-runs-hub.ts';

export const dynamic = 'force-dynamic';

export async function GET(): Promise<Response> {
  try {
    const hub = getActiveRunsHub();
    return Response.json({ success: true, runs: await hub.snapshot(), openStreams: hub.subscribers });
  } catch (error) {
    console.error('active runs: reading the runs failed:', error);
    return Response.json({ success: false, error: 'Failed to read the active runs' }, { status: 500 });
  }
}
