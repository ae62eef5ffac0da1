// GET /api/active-runs/events   server-sent events for the page at /
//
//   event: snapshot    data: {"runs":[{id,status,completed,totalProspects,createdAt}, ...]}
//   event: recovered   data: {"runId","previousStatus","newStatus"}
//
// A snapshot first (and again after the server's LISTEN connection came back),
// then one `recovered` per run that recovery marked FAILED, whoever ran it.
// EventSource reconnects by itself (retry: 2000) and gets a fresh snapshot.
import { getActiveRunsHub, type ActiveRunsEvent } from '../../../../lib/active-runs-hub.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const KEEPALIVE_MS = 15_000;

export async function GET(request: Request): Promise<Response> {
  const hub = getActiveRunsHub();
  const encoder = new TextEncoder();
  let cleanup = (): void => {};

  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      let open = true;
      const write = (text: string): void => {
        if (!open) return;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          cleanup();
        }
      };
      const send = (event: ActiveRunsEvent): void => {
        const { type, ...data } = event;
        write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      // Subscribe before the snapshot, hold events until it is sent.
      let held: ActiveRunsEvent[] | undefined = [];
      const unsubscribe = hub.subscribe((event) => (held ? held.push(event) : send(event)));
      const keepalive = setInterval(() => write(': keepalive\n\n'), KEEPALIVE_MS);
      cleanup = () => {
        if (!open) return;
        open = false;
        unsubscribe();
        clearInterval(keepalive);
        try {
          controller.close();
        } catch {
          // already closed by the client
        }
      };
      request.signal.addEventListener('abort', cleanup);

      write('retry: 2000\n\n');
      try {
        send({ type: 'snapshot', runs: await hub.snapshot() });
      } catch (error) {
        console.error('active runs: reading the runs failed:', error);
        write(`event: failure\ndata: ${JSON.stringify({ error: 'Failed to read the active runs' })}\n\n`);
        cleanup(); // the browser reconnects in 2 s
        return;
      }
      const pending = held;
      held = undefined;
      for (const event of pending) send(event);
    },
    cancel() {
      cleanup();
    },
  });

  return new Response(stream, {
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      // no-transform: next start's gzip would otherwise buffer the stream
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no', // nginx in front: do not buffer
    },
  });
}
