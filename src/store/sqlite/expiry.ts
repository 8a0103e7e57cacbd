/** The purge of expired transfer tokens and idempotency records, and of reservations settled long ago, in SQLite. */
import { RESERVATION_RETENTION_MS, type ExpiryStore } from '../store.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

function prepareStatements(db: Db) {
  return {
    purgeTransfers: db.prepare<[number, number]>(
      'DELETE FROM transfers WHERE rowid IN (SELECT rowid FROM transfers WHERE expires <= ? LIMIT ?)',
    ),
    purgeIdempotency: db.prepare<[number, number]>(
      'DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency WHERE expires <= ? LIMIT ?)',
    ),
    purgeReservations: db.prepare<[number, number]>(
      'DELETE FROM reservations WHERE rowid IN (SELECT rowid FROM reservations WHERE finished <= ? LIMIT ?)',
    ),
  };
}

export class SqliteExpiry extends SqliteConcern<ReturnType<typeof prepareStatements>> implements ExpiryStore {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async purgeExpired(now: number, limit: number): Promise<number> {
    return this.writes.writeTransaction((): number => {
      let gone = this.st.purgeTransfers.run(now, limit).changes;
      gone += this.st.purgeIdempotency.run(now, Math.max(0, limit - gone)).changes;
      return gone + this.st.purgeReservations.run(now - RESERVATION_RETENTION_MS, Math.max(0, limit - gone)).changes;
    });
  }
}
