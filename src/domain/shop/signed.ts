/**
 * The shop's signed tokens: the abandoned-basket cursor (shop-api.md §3.1) and the recovery link's token (§3.8).
 * Both are HMAC-SHA256 under a key of their own (the service derives one per purpose from its signing key), over a
 * text that names the purpose and the partner, so a token of one kind or of one partner is never valid as another.
 *
 * Cursor: `<base64url JSON {v, created, id}>.<MAC>`; the JSON is what the spec calls the keyset (version, last
 * created, last id), the MAC makes tampering a 400 instead of a silently different page.
 * Recovery token: `<partner id, base64url>.<expires, base 36>.<MAC>` over partner, basket id and expiry; it expires
 * with the basket. The link carries the partner (the recovery route has no token to learn it from), never a secret.
 */
import { createHmac } from 'node:crypto';
import { macTextMatches } from '../mac-text.js';
import { badRequest } from './errors.js';

/** A position in the abandoned listing, ordered by (created, id) (the store's Keyset). */
export interface Keyset {
  created: number;
  id: string;
}

/** MAC length in bytes (128 bits). */
const MAC_BYTES = 16;
const CURSOR_VERSION = 1;
/** Longest cursor or token read at all (ours are far shorter). */
const MAX_TOKEN = 1024;
/** Longest basket id a cursor may carry (ids are at most 128 characters). */
const MAX_ID = 128;

function mac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest().subarray(0, MAC_BYTES);
}

function macMatches(key: Buffer, text: string, given: string): boolean {
  return macTextMatches(mac(key, text), given);
}

const cursorText = (partnerId: string, payload: string): string => `shop-cursor\n${partnerId}\n${payload}`;

export function encodeCursor(key: Buffer, partnerId: string, at: Keyset): string {
  const payload = Buffer.from(JSON.stringify({ v: CURSOR_VERSION, created: at.created, id: at.id })).toString('base64url');
  return `${payload}.${mac(key, cursorText(partnerId, payload)).toString('base64url')}`;
}

const invalidCursor = () => badRequest('queryMore is not a valid cursor of this listing');

/** The keyset position of a cursor this service issued for the partner; 400 for anything else. */
export function decodeCursor(key: Buffer, partnerId: string, cursor: string): Keyset {
  if (cursor.length === 0 || cursor.length > MAX_TOKEN) throw invalidCursor();
  const dot = cursor.indexOf('.');
  const payload = cursor.slice(0, dot);
  if (dot <= 0 || !/^[A-Za-z0-9_-]+$/.test(payload) || !macMatches(key, cursorText(partnerId, payload), cursor.slice(dot + 1))) {
    throw invalidCursor();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  // signed by us, so well-formed unless the format changed: checked all the same
  const p = parsed as Record<string, unknown> | null;
  if (typeof p !== 'object' || p === null || p.v !== CURSOR_VERSION) throw invalidCursor();
  const { created, id } = p;
  if (!Number.isSafeInteger(created) || (created as number) < 0 || typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) {
    throw invalidCursor();
  }
  return { created: created as number, id };
}

const recoveryText = (partnerId: string, basketId: string, expires: number): string => `shop-recover\n${partnerId}\n${basketId}\n${expires}`;

export function recoveryToken(key: Buffer, partnerId: string, basketId: string, expires: number): string {
  const partner = Buffer.from(partnerId, 'utf8').toString('base64url');
  return `${partner}.${expires.toString(36)}.${mac(key, recoveryText(partnerId, basketId, expires)).toString('base64url')}`;
}

export interface RecoveryClaim {
  partnerId: string;
  /** The basket's expiry the token was issued for (the caller compares it with the basket's). */
  expires: number;
}

/** What a recovery token for `basketId` says, or null when it is malformed, forged or expired at `now`. */
export function verifyRecoveryToken(key: Buffer, basketId: string, token: string, now: number): RecoveryClaim | null {
  if (token.length > MAX_TOKEN) return null;
  const m = /^([A-Za-z0-9_-]{1,400})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})$/.exec(token);
  if (!m) return null;
  const partnerId = Buffer.from(m[1]!, 'base64url').toString('utf8');
  const expires = parseInt(m[2]!, 36);
  // one spelling per value: a re-encoded partner or expiry is not the token that was issued
  if (Buffer.from(partnerId, 'utf8').toString('base64url') !== m[1] || !Number.isSafeInteger(expires) || expires.toString(36) !== m[2]) return null;
  if (!macMatches(key, recoveryText(partnerId, basketId, expires), m[3]!)) return null;
  return expires > now ? { partnerId, expires } : null;
}
