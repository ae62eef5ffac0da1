// GET  /api/qualify/recovery?timeout=30          what is stuck (changes nothing)
// POST /api/qualify/recovery  {"timeout": 30}     recover: mark stuck runs FAILED
//
// Next.js App Router handlers, but plain functions of a web Request: they run
// (and are tested) without a Next.js server. The bodies are the seed's.
import {
  InvalidTimeoutError,
  parseTimeout,
  recoverStuckRunsReport,
  stuckRunsReport,
  type ErrorBody,
} from '../../../../lib/background-recovery.ts';

export async function GET(request: Request): Promise<Response> {
  let timeout: number;
  try {
    timeout = parseTimeout(new URL(request.url).searchParams.get('timeout'));
  } catch (error) {
    return fail(400, error instanceof InvalidTimeoutError ? error.message : 'Invalid request');
  }
  try {
    return Response.json(await stuckRunsReport(timeout));
  } catch (error) {
    console.error('recovery: checking for stuck runs failed:', error);
    return fail(500, 'Failed to check for stuck runs');
  }
}

export async function POST(request: Request): Promise<Response> {
  let timeout: number;
  try {
    timeout = parseTimeout(await readTimeout(request));
  } catch (error) {
    return fail(400, error instanceof BadRequest || error instanceof InvalidTimeoutError ? error.message : 'Invalid request');
  }
  try {
    return Response.json(await recoverStuckRunsReport(timeout));
  } catch (error) {
    console.error('recovery: recovering stuck runs failed:', error);
    return fail(500, 'Failed to recover stuck runs');
  }
}

class BadRequest extends Error {}

/** `{"timeout": 30}`; an empty body (`curl -X POST` with no data) means the default. */
async function readTimeout(request: Request): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === '') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequest('request body must be JSON, e.g. {"timeout": 30}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequest('request body must be a JSON object, e.g. {"timeout": 30}');
  }
  return (body as { timeout?: unknown }).timeout;
}

function fail(status: number, error: string): Response {
  return Response.json({ success: false, error } satisfies ErrorBody, { status });
}
