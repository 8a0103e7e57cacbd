/**
 * Transfer tokens (spec §3.8): 256 random bits, base64url (43 characters). The store keeps only the SHA-256 of a
 * token, so a leaked database cannot be replayed into baskets.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Random bytes per token (≥ 16 = 128 bits asked by the spec). */
export const TRANSFER_TOKEN_BYTES = 32;

export function newTransferToken(): string {
  return randomBytes(TRANSFER_TOKEN_BYTES).toString('base64url');
}

/** The key a token is stored under: lower-case hex SHA-256 of its UTF-8 text. */
export function hashTransferToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Random guest user id: `guest-` + 128 bits, base64url. */
export function newGuestUserId(): string {
  return `guest-${randomBytes(16).toString('base64url')}`;
}
