/** Idempotency records in SQLite: a row per (scope, key) with its fingerprint, state, lease and stored response. */
import { existingIdempotency, type IdempotencyRow } from '../shared/checks.js';
import { parseJson, toJson } from '../shared/codec.js';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../store.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

function prepareStatements(db: Db) {
  return {
    getIdempotency: db.prepare<[string, string], IdempotencyRow<string>>(
      'SELECT fingerprint, state, response, lease_until, expires FROM idempotency WHERE scope = ? AND key = ?',
    ),
    startIdempotency: db.prepare<[string, string, string, number, number]>(
      `INSERT INTO idempotency (scope, key, fingerprint, state, response, lease_until, expires)
       VALUES (?, ?, ?, 'running', NULL, ?, ?)
       ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'running',
         response = NULL, lease_until = excluded.lease_until, expires = excluded.expires`,
    ),
    finishIdempotency: db.prepare<[string, string, string]>(
      `UPDATE idempotency SET state = 'done', response = ?, lease_until = NULL
       WHERE scope = ? AND key = ? AND state = 'running'`,
    ),
    abandonIdempotency: db.prepare<[string, string]>(
      `DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'running'`,
    ),
  };
}

export class SqliteIdempotency extends SqliteConcern<ReturnType<typeof prepareStatements>> implements IdempotencyStore {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async beginIdempotent(
    scope: string,
    key: string,
    fingerprint: string,
    now: number,
    ttlMs: number,
    leaseMs: number,
  ): Promise<IdempotencyBegin> {
    return this.writes.writeTransaction((): IdempotencyBegin => {
      const row = this.st.getIdempotency.get(scope, key);
      const existing = existingIdempotency(row, fingerprint, now, (response) => parseJson<StoredResponse>(response ?? 'null'));
      if (existing !== null) return existing;
      // Absent, expired, or running with a lapsed lease: this caller starts (or takes over) the request.
      this.st.startIdempotency.run(scope, key, fingerprint, now + leaseMs, now + ttlMs);
      return { state: 'new' };
    });
  }

  async finishIdempotent(scope: string, key: string, response: StoredResponse): Promise<void> {
    await this.writes.groupWrite(() => this.st.finishIdempotency.run(toJson(response), scope, key));
  }

  async abandonIdempotent(scope: string, key: string): Promise<void> {
    await this.writes.groupWrite(() => this.st.abandonIdempotency.run(scope, key));
  }
}
