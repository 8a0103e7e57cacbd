/**
 * Checking a MAC that arrives as base64url text (stream tickets, shop cursors, recovery links): the given text is
 * compared with the expected MAC's own text, in constant time. Comparing decoded bytes instead would accept altered
 * twins: the last base64url character carries spare bits (2 for a 32-byte MAC, 4 for a 16-byte one) that a decoder
 * ignores.
 */
import { timingSafeEqual } from 'node:crypto';

export function macTextMatches(expected: Buffer, given: string): boolean {
  const want = Buffer.from(expected.toString('base64url'));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}
