/**
 * Transfer tokens in PostgreSQL, a row per token hash; valid while now < expires.
 */
import { toTransfer, type TransferRow } from '../shared/codec.js';
import type { TransferRecord, TransferStore } from '../store.js';
import type { PgConnection } from './connection.js';

export class PgTransfers implements TransferStore {
  constructor(private readonly conn: PgConnection) {}

  async putTransfer(tokenHash: string, record: TransferRecord): Promise<void> {
    await this.conn.q(
      `INSERT INTO transfers (token_hash, partner_id, user_id, url, expires) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (token_hash) DO UPDATE SET partner_id = excluded.partner_id, user_id = excluded.user_id,
         url = excluded.url, expires = excluded.expires`,
      [tokenHash, record.partnerId, record.userId, record.url, record.expires],
    );
  }

  async getTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const { rows } = await this.conn.q<TransferRow>(
      'SELECT partner_id, user_id, url, expires FROM transfers WHERE token_hash = $1 AND expires > $2',
      [tokenHash, now],
    );
    return rows[0] ? toTransfer(rows[0]) : null;
  }

  async takeTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const { rows } = await this.conn.q<TransferRow>(
      'DELETE FROM transfers WHERE token_hash = $1 AND expires > $2 RETURNING partner_id, user_id, url, expires',
      [tokenHash, now],
    );
    return rows[0] ? toTransfer(rows[0]) : null;
  }
}
