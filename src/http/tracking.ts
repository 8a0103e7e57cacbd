/**
 * `X-JAY-Tracking`: base64 of JSON `{session_id, start_time, source}` set by the playout tracking endpoint.
 * Decoded leniently: anything unreadable is ignored, never a failure.
 */
export interface Tracking {
  sessionId?: string;
  startTime?: string;
  source?: string;
}

export function decodeTracking(value: string): Tracking | null {
  if (value.length > 4096) return null;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
  const o = json as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const out: Tracking = {};
  const sessionId = str(o.session_id);
  const startTime = str(o.start_time);
  const source = str(o.source);
  if (sessionId !== undefined) out.sessionId = sessionId;
  if (startTime !== undefined) out.startTime = startTime;
  if (source !== undefined) out.source = source;
  return out;
}
