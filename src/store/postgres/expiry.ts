/**
 * The purge of expired transfer tokens and idempotency records, and of reservations settled long ago, in PostgreSQL.
 */
import { RESERVATION_RETENTION_MS, type ExpiryStore } from '../store.js';
import type { PgConnection } from './connection.js';

export class PgExpiry implements ExpiryStore {
  constructor(private readonly conn: PgConnection) {}

  async purgeExpired(now: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const transfers = await this.conn.q(
      `DELETE FROM transfers WHERE token_hash IN (
         SELECT token_hash FROM transfers WHERE expires <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) AND expires <= $1`,
      [now, limit],
    );
    const gone = transfers.rowCount ?? 0;
    if (gone >= limit) return gone;
    const idem = await this.conn.q(
      `DELETE FROM idempotency i USING (
         SELECT scope, key FROM idempotency WHERE expires <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) d
       WHERE i.scope = d.scope AND i.key = d.key AND i.expires <= $1`,
      [now, limit - gone],
    );
    const settled = gone + (idem.rowCount ?? 0);
    if (settled >= limit) return settled;
    const reservations = await this.conn.q(
      `DELETE FROM reservations r USING (
         SELECT partner_id, reservation_id FROM reservations WHERE finished <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) d
       WHERE r.partner_id = d.partner_id AND r.reservation_id = d.reservation_id AND r.finished <= $1`,
      [now - RESERVATION_RETENTION_MS, limit - settled],
    );
    return settled + (reservations.rowCount ?? 0);
  }
}
