/**
 * The landing-state cookie `limio_state` (shop-api.md §1): written as the URL-encoded JSON `{"basketId":"..."}`,
 * read liberally: that, a bare `basket-...` value, or base64 (or base64url) JSON of the same object. Anything else
 * is no landing state (the caller answers 404), never an error of its own.
 */
import { isBasketId } from './ids.js';

export const LANDING_COOKIE = 'limio_state';
/** Longest cookie value looked at; ours are < 100 characters. */
const MAX_VALUE = 2048;

export function encodeLandingState(basketId: string): string {
  return encodeURIComponent(JSON.stringify({ basketId }));
}

/** `Set-Cookie` for the basket: the spec's attributes, Max-Age = the basket's remaining lifetime (≥ 0). */
export function landingStateCookie(basketId: string, remainingMs: number): string {
  const maxAge = Math.max(0, Math.floor(remainingMs / 1000));
  return `${LANDING_COOKIE}=${encodeLandingState(basketId)}; Path=/; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=None`;
}

function basketIdOfJson(text: string): string | null {
  if (!text.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    const id = (value as Record<string, unknown>).basketId;
    return isBasketId(id) ? id : null;
  } catch {
    return null;
  }
}

function decodeURIComponentOrNull(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** The basket id of one cookie value, or null. */
export function decodeLandingState(raw: string): string | null {
  if (raw.length === 0 || raw.length > MAX_VALUE) return null;
  // a quoted cookie value (RFC 6265 allows DQUOTE around it)
  const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  const decoded = decodeURIComponentOrNull(value);
  if (decoded !== null) {
    if (isBasketId(decoded)) return decoded;
    const fromJson = basketIdOfJson(decoded);
    if (fromJson !== null) return fromJson;
  }
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    // Buffer accepts both alphabets and ignores what is not base64, so the JSON check below is what decides
    return basketIdOfJson(Buffer.from(value, 'base64').toString('utf8'));
  }
  return null;
}

/**
 * The basket id of a `Cookie` header: the first `limio_state` whose value names a basket. Never throws, whatever
 * the header holds.
 */
export function landingStateOf(cookieHeader: string | string[] | undefined): string | null {
  if (cookieHeader === undefined) return null;
  const headers = Array.isArray(cookieHeader) ? cookieHeader : [cookieHeader];
  for (const header of headers) {
    if (typeof header !== 'string') continue;
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=');
      if (eq === -1 || pair.slice(0, eq).trim() !== LANDING_COOKIE) continue;
      const id = decodeLandingState(pair.slice(eq + 1).trim());
      if (id !== null) return id;
    }
  }
  return null;
}
