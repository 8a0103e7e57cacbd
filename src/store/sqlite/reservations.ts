/**
 * Stock reservations in SQLite: a reservation row holds the outcome of each line; the units are counted in the
 * products row (`reserved`). Each call is one body in the group commit's transaction, so it is all or nothing.
 */
import { assertReserveCounts } from '../shared/checks.js';
import { parseJson, toJson } from '../shared/codec.js';
import type { ReservationState, ReservationStore, ReservedLine, ReserveLine } from '../store.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

interface ReservationRow {
  lines: string;
  state: ReservationState;
}

function prepareStatements(db: Db) {
  return {
    getStock: db.prepare<[string, string], { stock: number | null; reserved: number }>(
      'SELECT stock, reserved FROM products WHERE partner_id = ? AND product_id = ?',
    ),
    // The availability check is repeated in SQL so the row can never go below zero, whatever the caller read.
    reserveUnits: db.prepare<[number, string, string, number]>(
      `UPDATE products SET reserved = reserved + ?
       WHERE partner_id = ? AND product_id = ? AND stock IS NOT NULL AND stock - reserved >= ?`,
    ),
    releaseUnits: db.prepare<[number, string, string]>(
      'UPDATE products SET reserved = MAX(reserved - ?, 0) WHERE partner_id = ? AND product_id = ?',
    ),
    // Stock is clamped at 0: it counts units on hand, which an admin may have lowered below the reservations.
    commitUnits: db.prepare<[number, number, string, string]>(
      `UPDATE products SET reserved = MAX(reserved - ?, 0),
         stock = CASE WHEN stock IS NULL THEN NULL ELSE MAX(stock - ?, 0) END
       WHERE partner_id = ? AND product_id = ?`,
    ),
    // Units back on hand; a product with unlimited stock (NULL) stays unlimited.
    returnUnits: db.prepare<[number, string, string]>(
      'UPDATE products SET stock = stock + ? WHERE partner_id = ? AND product_id = ? AND stock IS NOT NULL',
    ),
    getReservation: db.prepare<[string, string], ReservationRow>(
      'SELECT lines, state FROM reservations WHERE partner_id = ? AND reservation_id = ?',
    ),
    insertReservation: db.prepare<[string, string, string]>(
      `INSERT INTO reservations (partner_id, reservation_id, lines, state) VALUES (?, ?, ?, 'reserved')`,
    ),
    setReservationState: db.prepare<[ReservationState, number, string, string]>(
      `UPDATE reservations SET state = ?, finished = ? WHERE partner_id = ? AND reservation_id = ? AND state = 'reserved'`,
    ),
    returnReservation: db.prepare<[number, string, string]>(
      `UPDATE reservations SET state = 'returned', finished = ? WHERE partner_id = ? AND reservation_id = ? AND state = 'committed'`,
    ),
  };
}

export class SqliteReservations extends SqliteConcern<ReturnType<typeof prepareStatements>> implements ReservationStore {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async reserveStock(partnerId: string, reservationId: string, lines: readonly ReserveLine[]): Promise<ReservedLine[]> {
    assertReserveCounts(lines);
    return this.writes.writeTransaction((): ReservedLine[] => {
      const existing = this.st.getReservation.get(partnerId, reservationId);
      if (existing) return parseJson<ReservedLine[]>(existing.lines);
      const outcome = lines.map((line) => this.reserveLine(partnerId, line));
      this.st.insertReservation.run(partnerId, reservationId, toJson(outcome));
      return outcome;
    });
  }

  /** Must run inside the reservation transaction. */
  private reserveLine(partnerId: string, line: ReserveLine): ReservedLine {
    const product = this.st.getStock.get(partnerId, line.productId);
    if (product === undefined) return { productId: line.productId, stocked: -line.count };
    if (product.stock === null) return { productId: line.productId, stocked: null };
    const done = this.st.reserveUnits.run(line.count, partnerId, line.productId, line.count).changes === 1;
    return { productId: line.productId, stocked: done ? line.count : -line.count };
  }

  async releaseReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'released');
  }

  async commitReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.settleReservation(partnerId, reservationId, 'committed');
  }

  /** Moves a reservation out of 'reserved' exactly once, returning or consuming its units. */
  private async settleReservation(partnerId: string, reservationId: string, to: 'released' | 'committed'): Promise<boolean> {
    return this.writes.writeTransaction((): boolean => {
      const row = this.st.getReservation.get(partnerId, reservationId);
      if (!row || row.state !== 'reserved') return false;
      for (const line of parseJson<ReservedLine[]>(row.lines)) {
        if (line.stocked === null || line.stocked <= 0) continue;
        if (to === 'released') this.st.releaseUnits.run(line.stocked, partnerId, line.productId);
        else this.st.commitUnits.run(line.stocked, line.stocked, partnerId, line.productId);
      }
      return this.st.setReservationState.run(to, Date.now(), partnerId, reservationId).changes === 1;
    });
  }

  async returnReservation(partnerId: string, reservationId: string): Promise<boolean> {
    return this.writes.writeTransaction((): boolean => {
      if (this.st.returnReservation.run(Date.now(), partnerId, reservationId).changes !== 1) return false;
      const row = this.st.getReservation.get(partnerId, reservationId);
      for (const line of parseJson<ReservedLine[]>(row?.lines ?? '[]')) {
        if (line.stocked !== null && line.stocked > 0) this.st.returnUnits.run(line.stocked, partnerId, line.productId);
      }
      return true;
    });
  }

  async getReservationState(partnerId: string, reservationId: string): Promise<ReservationState | null> {
    return this.conn.run(() => this.st.getReservation.get(partnerId, reservationId))?.state ?? null;
  }
}
