/** An admin request through the test server: a JSON body as JSON, a string body as JSON lines. */
import { ADMIN_KEY, type EnvelopeBody, type TestServer } from './harness.js';

export async function adminRequest<T>(
  t: TestServer,
  method: 'GET' | 'PUT' | 'POST',
  url: string,
  body?: unknown,
  headers: Record<string, string> = { 'x-admin-key': ADMIN_KEY },
): Promise<{ status: number; body: EnvelopeBody<T> }> {
  const lines = typeof body === 'string';
  const res = await t.server.app.inject({
    method,
    url,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': lines ? 'application/x-ndjson' : 'application/json' }) },
    ...(body === undefined ? {} : { payload: lines ? body : JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<T> };
}

/** Records as an import body: one JSON line each (strings as they are, for blank or broken lines). */
export const jsonLines = (lines: readonly unknown[]): string => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
