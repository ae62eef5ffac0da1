// POST /api/qualify/runs/:id/claim   this app instance works on run :id
//
// The run is claimed by the process's incarnation (recovery.claim(...,
// instance => token)), not by a database session: the claim holds across
// pooled connections, and ends when the instance stops, restarts or lapses.
import { claimRun } from '../../../../../../lib/app-instance.ts';

export async function POST(_request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await context.params;
  try {
    const claimed = await claimRun(id);
    return Response.json({ success: true, claimed });
  } catch (error) {
    console.error(`recovery: claiming run ${id} failed:`, error);
    return Response.json({ success: false, error: 'Failed to claim the run' }, { status: 500 });
  }
}
