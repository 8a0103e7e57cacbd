/**
 * Per-user comfort settings in PostgreSQL, a row per (partner, user).
 */
import { toComfort } from '../shared/codec.js';
import type { BasketKey, ComfortSettings, ComfortStore } from '../store.js';
import type { PgConnection } from './connection.js';

export class PgComfort implements ComfortStore {
  constructor(private readonly conn: PgConnection) {}

  async getComfort(key: BasketKey): Promise<ComfortSettings | null> {
    const { rows } = await this.conn.q<{ customer_id: string | null; payment_method_id: string | null; one_click: boolean }>(
      'SELECT customer_id, payment_method_id, one_click FROM comfort WHERE partner_id = $1 AND user_id = $2',
      [key.partnerId, key.userId],
    );
    const row = rows[0];
    return row ? toComfort(row, row.one_click) : null;
  }

  async putComfort(key: BasketKey, settings: ComfortSettings): Promise<void> {
    await this.conn.q(
      `INSERT INTO comfort (partner_id, user_id, customer_id, payment_method_id, one_click) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (partner_id, user_id) DO UPDATE SET customer_id = excluded.customer_id,
         payment_method_id = excluded.payment_method_id, one_click = excluded.one_click`,
      [key.partnerId, key.userId, settings.customerId, settings.paymentMethodId, settings.oneClick],
    );
  }
}
