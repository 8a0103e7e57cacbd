/**
 * `X-JAY-Tracking`: base64 of JSON `{session_id, start_time, source}` set by the playout tracking endpoint, and
 * `provider_id`, the query's provider fallback: where a request's tracking events are attributed (issue 23).
 * Decoded leniently: anything unreadable is recorded as `tracking: "undecodable"`, never a failure.
 */
import type { FastifyRequest } from 'fastify';
import type { EventAttribution } from '../store/store.js';
import { DEFAULT_API_VERSION } from './schemas.js';

export interface Tracking {
  sessionId?: string;
  startTime?: string;
  source?: string;
  /** The session's provider, when the playout puts one in (`provider_id`, or `provider`). */
  provider?: string;
}

/** Longest value kept of one tracking field; a longer one is left out (it is no id a playout hands out). */
const MAX_FIELD = 256;

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
  const str = (v: unknown) => (typeof v === 'string' && v !== '' && v.length <= MAX_FIELD ? v : undefined);
  const out: Tracking = {};
  const sessionId = str(o.session_id);
  const startTime = str(o.start_time);
  const source = str(o.source);
  const provider = str(o.provider_id) ?? str(o.provider);
  if (sessionId !== undefined) out.sessionId = sessionId;
  if (startTime !== undefined) out.startTime = startTime;
  if (source !== undefined) out.source = source;
  if (provider !== undefined) out.provider = provider;
  return out;
}

/**
 * Where a request's action came from: the tracking header's session, the provider (the session's, else the query's
 * `provider_id`, else none) and the API version it was served with.
 */
export function attributionOf(request: FastifyRequest): EventAttribution {
  const header = request.headers['x-jay-tracking'];
  const decoded = typeof header === 'string' && header !== '' ? decodeTracking(header) : undefined;
  if (decoded === null) request.log.debug('undecodable X-JAY-Tracking header');
  const query = request.query as { provider_id?: unknown } | undefined;
  const fallback = typeof query?.provider_id === 'string' && query.provider_id !== '' ? query.provider_id : null;
  const asked = request.headers['x-api-version'] ?? request.headers['x-jay-api-version'];
  return {
    tracking: decoded === undefined ? 'absent' : decoded === null ? 'undecodable' : 'ok',
    sessionId: decoded?.sessionId ?? null,
    startTime: decoded?.startTime ?? null,
    source: decoded?.source ?? null,
    provider: decoded?.provider ?? fallback,
    apiVersion: typeof asked === 'string' && asked !== '' ? asked : DEFAULT_API_VERSION,
  };
}
