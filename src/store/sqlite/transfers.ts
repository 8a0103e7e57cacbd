/**
 * Transfer tokens in SQLite, a row per token hash. A token is valid while now < expires, the same boundary as
 * basket expiry (expired when expires <= now).
 */
import { toTransfer, type TransferRow } from '../shared/codec.js';
import type { TransferRecord, TransferStore } from '../store.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

function prepareStatements(db: Db) {
  return {
    putTransfer: db.prepare<[string, string, string, string, number]>(
      `INSERT INTO transfers (token_hash, partner_id, user_id, url, expires) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (token_hash) DO UPDATE SET partner_id = excluded.partner_id, user_id = excluded.user_id,
         url = excluded.url, expires = excluded.expires`,
    ),
    getTransfer: db.prepare<[string, number], TransferRow>(
      'SELECT partner_id, user_id, url, expires FROM transfers WHERE token_hash = ? AND expires > ?',
    ),
    takeTransfer: db.prepare<[string, number], TransferRow>(
      'DELETE FROM transfers WHERE token_hash = ? AND expires > ? RETURNING partner_id, user_id, url, expires',
    ),
  };
}

export class SqliteTransfers extends SqliteConcern<ReturnType<typeof prepareStatements>> implements TransferStore {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async putTransfer(tokenHash: string, record: TransferRecord): Promise<void> {
    await this.writes.groupWrite(() => this.st.putTransfer.run(tokenHash, record.partnerId, record.userId, record.url, record.expires));
  }

  async getTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const row = this.conn.run(() => this.st.getTransfer.get(tokenHash, now));
    return row ? toTransfer(row) : null;
  }

  async takeTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    // One DELETE ... RETURNING: the row goes to exactly one caller, in any process.
    const row = await this.writes.groupWrite(() => this.st.takeTransfer.get(tokenHash, now));
    return row ? toTransfer(row) : null;
  }
}
