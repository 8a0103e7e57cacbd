/**
 * Basket versions as clients see them: the stored compare-and-set version of a live basket, 0 for a basket that
 * is absent or expired (it reads as empty). A client's `If-Match` becomes a Precondition, checked against the
 * version an update reads, inside the update (never as a read of its own).
 */
import { BasketError } from './errors.js';

/** `If-Match: *` (the basket must exist), or the versions any of which the basket may have. */
export type Precondition = { readonly any: true } | { readonly versions: readonly number[] };

/** Throws 412 VERSION_MISMATCH unless the basket at `version` satisfies `p`. */
export function checkPrecondition(p: Precondition, version: number): void {
  const ok = 'any' in p ? version !== 0 : p.versions.includes(version);
  if (!ok) {
    throw new BasketError('VERSION_MISMATCH', `The basket is at version ${version}, not the one in If-Match`, 'VERSION_MISMATCH');
  }
}
