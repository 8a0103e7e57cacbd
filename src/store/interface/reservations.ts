/** Stock reservations of a checkout: reserved, then released or committed (and a committed one returned). */

/**
 * How long a settled reservation is kept: repeats of reserve/release/commit answer from it, and the checkout's
 * late parties (a repeated finish, a PSP webhook retried for days) read its final state.
 */
export const RESERVATION_RETENTION_MS = 30 * 86_400_000;

export interface ReserveLine {
  productId: string;
  count: number;
}

/** Outcome of reserving one line: units reserved, a negative number when not possible, null when unlimited. */
export interface ReservedLine {
  productId: string;
  stocked: number | null;
}

/** `returned`: committed, then its units were put back on stock (an order cancelled after its commit). */
export type ReservationState = 'reserved' | 'released' | 'committed' | 'returned';

export interface ReservationStore {
  /**
   * Reserves each line on its own, atomically: never more than the units available (stock - reserved).
   * A line that cannot be fully reserved reserves nothing and reports `-count`. Idempotent per reservation
   * id: a repeated call returns the first outcome and reserves nothing more.
   */
  reserveStock(partnerId: string, reservationId: string, lines: readonly ReserveLine[]): Promise<ReservedLine[]>;
  /** Returns the reserved units to stock. Idempotent; false when there was nothing (left) to release. */
  releaseReservation(partnerId: string, reservationId: string): Promise<boolean>;
  /** Turns reserved units into stock decrements. Idempotent; false when there was nothing (left) to commit. */
  commitReservation(partnerId: string, reservationId: string): Promise<boolean>;
  /**
   * Puts a committed reservation's units back on stock (an order whose payment never came). Idempotent; false
   * when the reservation is not committed (never was, or was returned already). Unlimited or deleted products
   * are left alone.
   */
  returnReservation(partnerId: string, reservationId: string): Promise<boolean>;
  getReservationState(partnerId: string, reservationId: string): Promise<ReservationState | null>;
}
