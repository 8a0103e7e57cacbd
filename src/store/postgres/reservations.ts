/**
 * Stock reservations in PostgreSQL: `UPDATE products SET reserved = reserved + n WHERE stock - reserved >= n` (a
 * conditional update; the row lock serialises concurrent reservers, so it cannot oversell), inside a transaction
 * that also inserts the reservation row; a concurrent repeat of the same reservation id waits on that row and then
 * reads its outcome. Product rows are always locked in product-id order, so two reservations never deadlock.
 */
import { assertReserveCounts } from '../shared/checks.js';
import { toJson } from '../shared/codec.js';
import type { ReservationState, ReservationStore, ReservedLine, ReserveLine } from '../store.js';
import type { PgConnection, Queryable } from './connection.js';

/**
 * The lines that hold units, in product-id order: product rows are always locked in that order, so two
 * transactions touching the same products cannot deadlock.
 */
function heldInLockOrder(lines: readonly ReservedLine[]): ReservedLine[] {
  return lines
    .filter((l) => l.stocked !== null && l.stocked > 0)
    .sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

export class PgReservations implements ReservationStore {
  constructor(private readonly conn: PgConnection) {}

  async reserveStock(partnerId: string, reservationId: string, lines: readonly ReserveLine[]): Promise<ReservedLine[]> {
    assertReserveCounts(lines);
    const fresh = await this.conn.tx(async (c): Promise<ReservedLine[] | null> => {
      // The row is the idempotency record: a concurrent repeat blocks on it until this transaction ends.
      const inserted = await c.query(
        `INSERT INTO reservations (partner_id, reservation_id, lines, state) VALUES ($1, $2, '[]', 'reserved')
         ON CONFLICT (partner_id, reservation_id) DO NOTHING RETURNING 1`,
        [partnerId, reservationId],
      );
      if (inserted.rowCount !== 1) return null;
      const outcome = new Map<number, ReservedLine>();
      // Lock order by product id: two reservations touching the same products cannot deadlock.
      const order = lines.map((line, i) => ({ line, i })).sort((a, b) => (a.line.productId < b.line.productId ? -1 : a.line.productId > b.line.productId ? 1 : a.i - b.i));
      for (const { line, i } of order) outcome.set(i, await this.reserveLine(c, partnerId, line));
      const result = lines.map((_, i) => outcome.get(i)!);
      await c.query('UPDATE reservations SET lines = $3::jsonb WHERE partner_id = $1 AND reservation_id = $2', [
        partnerId,
        reservationId,
        toJson(result),
      ]);
      return result;
    });
    if (fresh !== null) return fresh;
    const { rows } = await this.conn.q<{ lines: ReservedLine[] }>(
      'SELECT lines FROM reservations WHERE partner_id = $1 AND reservation_id = $2',
      [partnerId, reservationId],
    );
    const row = rows[0];
    if (!row) throw new Error(`reservation ${reservationId} vanished while being read`);
    return row.lines;
  }

  private async reserveLine(c: Queryable, partnerId: string, line: ReserveLine): Promise<ReservedLine> {
    // The availability check is in the UPDATE itself: under the row lock, never below zero.
    const done = await c.query(
      `UPDATE products SET reserved = reserved + $3
       WHERE partner_id = $1 AND product_id = $2 AND stock IS NOT NULL AND stock - reserved >= $3 RETURNING 1`,
      [partnerId, line.productId, line.count],
    );
    if (done.rowCount === 1) return { productId: line.productId, stocked: line.count };
    const { rows } = await c.query<{ stock: number | null }>('SELECT stock FROM products WHERE partner_id = $1 AND product_id = $2', [
      partnerId,
      line.productId,
    ]);
    const row = rows[0];
    if (row !== undefined && row.stock === null) return { productId: line.productId, stocked: null };
    return { productId: line.productId, stocked: -line.count };
  }

  async releaseReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'released');
  }

  async commitReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'committed');
  }

  private async settleReservation(partnerId: string, reservationId: string, to: 'released' | 'committed'): Promise<boolean> {
    return this.conn.tx(async (c) => {
      const { rows } = await c.query<{ lines: ReservedLine[] }>(
        `UPDATE reservations SET state = $3, finished = $4
         WHERE partner_id = $1 AND reservation_id = $2 AND state = 'reserved' RETURNING lines`,
        [partnerId, reservationId, to, Date.now()],
      );
      const row = rows[0];
      if (!row) return false;
      for (const line of heldInLockOrder(row.lines)) {
        const n = line.stocked ?? 0;
        if (to === 'released') {
          await c.query('UPDATE products SET reserved = GREATEST(reserved - $3, 0) WHERE partner_id = $1 AND product_id = $2', [
            partnerId,
            line.productId,
            n,
          ]);
        } else {
          // Stock counts units on hand, which an admin may have lowered below the reservations: clamp at 0.
          await c.query(
            `UPDATE products SET reserved = GREATEST(reserved - $3, 0),
               stock = CASE WHEN stock IS NULL THEN NULL ELSE GREATEST(stock - $3, 0) END
             WHERE partner_id = $1 AND product_id = $2`,
            [partnerId, line.productId, n],
          );
        }
      }
      return true;
    });
  }

  async returnReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.conn.tx(async (c) => {
      const { rows } = await c.query<{ lines: ReservedLine[] }>(
        `UPDATE reservations SET state = 'returned', finished = $3
         WHERE partner_id = $1 AND reservation_id = $2 AND state = 'committed' RETURNING lines`,
        [partnerId, reservationId, Date.now()],
      );
      const row = rows[0];
      if (!row) return false;
      for (const line of heldInLockOrder(row.lines)) {
        await c.query('UPDATE products SET stock = stock + $3 WHERE partner_id = $1 AND product_id = $2 AND stock IS NOT NULL', [
          partnerId,
          line.productId,
          line.stocked,
        ]);
      }
      return true;
    });
  }

  async getReservationState(partnerId: string, reservationId: string): Promise<ReservationState | null> {
    const { rows } = await this.conn.q<{ state: ReservationState }>(
      'SELECT state FROM reservations WHERE partner_id = $1 AND reservation_id = $2',
      [partnerId, reservationId],
    );
    return rows[0]?.state ?? null;
  }
}
