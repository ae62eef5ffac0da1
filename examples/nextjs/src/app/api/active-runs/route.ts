// GET /api/active-runs   {"success": true, "runs": [...]}: what the page lists, as JSON.
import { getActiveRunsHub } from '../../../lib/active-runs-hub.ts';

export const dynamic = 'force-dynamic';

export async function GET(): Promise<Response> {
  try {
    return Response.json({ success: true, runs: await getActiveRunsHub().snapshot() });
  } catch (error) {
    console.error('active runs: reading the runs failed:', error);
    return Response.json({ success: false, error: 'Failed to read the active runs' }, { status: 500 });
  }
}
