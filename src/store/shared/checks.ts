/**
 * Rules of the Store contract (store.ts) that every adapter applies identically: argument checks, the
 * pass-through of errors thrown by a caller's function, and the idempotency decision on an existing record.
 * Pure (but for the random holder token); kept in one place so that no adapter accepts what another rejects.
 */
import { randomBytes } from 'node:crypto';
import type { IdempotencyBegin, Order, ReserveLine, StoredResponse } from '../store.js';

// --- argument checks ---------------------------------------------------------------------------------------------

/** Checked before anything is reserved, so a bad line fails the whole call without side effects. */
export function assertReserveCounts(lines: readonly ReserveLine[]): void {
  for (const line of lines) {
    if (!Number.isSafeInteger(line.count) || line.count <= 0) {
      throw new RangeError(`reserve count for ${line.productId} must be a positive integer`);
    }
  }
}

export function assertListLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
}

/** updateOrder's fn must return the same order: its key picks the record (and, in Redis, the hash slot). */
export function assertSameOrderKey(next: Order, partnerId: string, orderNo: string): void {
  if (next.partnerId !== partnerId || next.orderNo !== orderNo) {
    throw new Error('updateOrder: fn must not change partnerId or orderNo');
  }
}

// --- errors thrown by a caller's function ------------------------------------------------------------------------

/** Carries an error thrown by a caller's function through an adapter's error mapping, so it is rethrown untouched. */
export class CallerError {
  constructor(readonly error: unknown) {}
}

export function callerFn<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw new CallerError(error);
  }
}

// --- idempotency records -----------------------------------------------------------------------------------------

/** An idempotency record as the SQL adapters read it; `Response` is how the column comes back (text or JSON). */
export interface IdempotencyRow<Response> {
  fingerprint: string;
  state: 'running' | 'done';
  response: Response | null;
  lease_until: number | null;
  expires: number;
}

/**
 * A fresh holder token for a record a caller starts: only the caller that has it may finish or abandon the record,
 * so a caller whose lease lapsed cannot finish or delete the hold of the caller that took it over.
 */
export function newIdempotencyHolder(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * What beginIdempotent answers for the stored record `row`, or null when the caller starts the request: the
 * record is absent, expired, or running with a lapsed lease (the caller then takes it over).
 */
export function existingIdempotency<Response>(
  row: IdempotencyRow<Response> | undefined,
  fingerprint: string,
  now: number,
  responseOf: (response: Response | null) => StoredResponse,
): Exclude<IdempotencyBegin, { state: 'new' }> | null {
  if (row === undefined || !(row.expires > now)) return null;
  if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
  if (row.state === 'done') return { state: 'done', response: responseOf(row.response) };
  if (row.lease_until !== null && row.lease_until > now) return { state: 'running' };
  return null;
}
