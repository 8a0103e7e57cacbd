/** Per-user comfort settings in SQLite, a row per (partner, user); one_click is an INTEGER 0/1. */
import { toComfort } from '../shared/codec.js';
import type { BasketKey, ComfortSettings, ComfortStore } from '../store.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

interface ComfortRow {
  customer_id: string | null;
  payment_method_id: string | null;
  one_click: number;
}

function prepareStatements(db: Db) {
  return {
    getComfort: db.prepare<[string, string], ComfortRow>(
      'SELECT customer_id, payment_method_id, one_click FROM comfort WHERE partner_id = ? AND user_id = ?',
    ),
    putComfort: db.prepare<[string, string, string | null, string | null, number]>(
      `INSERT INTO comfort (partner_id, user_id, customer_id, payment_method_id, one_click) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (partner_id, user_id) DO UPDATE SET customer_id = excluded.customer_id,
         payment_method_id = excluded.payment_method_id, one_click = excluded.one_click`,
    ),
  };
}

export class SqliteComfort extends SqliteConcern<ReturnType<typeof prepareStatements>> implements ComfortStore {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async getComfort(key: BasketKey): Promise<ComfortSettings | null> {
    const row = this.conn.run(() => this.st.getComfort.get(key.partnerId, key.userId));
    return row ? toComfort(row, row.one_click === 1) : null;
  }

  async putComfort(key: BasketKey, settings: ComfortSettings): Promise<void> {
    await this.writes.groupWrite(() =>
      this.st.putComfort.run(
        key.partnerId,
        key.userId,
        settings.customerId,
        settings.paymentMethodId,
        settings.oneClick ? 1 : 0,
      ),
    );
  }
}
