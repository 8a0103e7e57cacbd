/**
 * Checking a MAC that arrives as text (base64url: stream tickets, shop cursors, recovery links; hex: webhook
 * signatures): the given text is compared with the expected MAC's own text, in constant time. Comparing decoded
 * bytes instead would accept altered twins: the last base64url character carries spare bits (2 for a 32-byte MAC,
 * 4 for a 16-byte one), and a hex decoder stops at the first character that is not hex.
 */
import { timingSafeEqual } from 'node:crypto';

export function macTextMatches(expected: Buffer, given: string, encoding: 'base64url' | 'hex' = 'base64url'): boolean {
  const want = Buffer.from(expected.toString(encoding));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}
