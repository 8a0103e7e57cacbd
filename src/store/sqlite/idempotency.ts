/**
 * Idempotency records in SQLite: a row per (scope, key) with its fingerprint, state, lease, holder and stored
 * response.
 */
import { existingIdempotency, newIdempotencyHolder, type IdempotencyRow } from '../shared/checks.js';
import { parseJson, toJson } from '../shared/codec.js';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../store.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

function prepareStatements(db: Db) {
  return {
    getIdempotency: db.prepare<[string, string], IdempotencyRow<string>>(
      'SELECT fingerprint, state, response, lease_until, expires FROM idempotency WHERE scope = ? AND key = ?',
    ),
    startIdempotency: db.prepare<[string, string, string, number, number, string]>(
      `INSERT INTO idempotency (scope, key, fingerprint, state, response, lease_until, expires, holder)
       VALUES (?, ?, ?, 'running', NULL, ?, ?, ?)
       ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'running',
         response = NULL, lease_until = excluded.lease_until, expires = excluded.expires, holder = excluded.holder`,
    ),
    // Only the holder: a caller whose lease lapsed must not finish or delete the hold of the one that took over.
    finishIdempotency: db.prepare<[string, string, string, string]>(
      `UPDATE idempotency SET state = 'done', response = ?, lease_until = NULL
       WHERE scope = ? AND key = ? AND state = 'running' AND holder = ?`,
    ),
    abandonIdempotency: db.prepare<[string, string, string]>(
      `DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'running' AND holder = ?`,
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
      const holder = newIdempotencyHolder();
      this.st.startIdempotency.run(scope, key, fingerprint, now + leaseMs, now + ttlMs, holder);
      return { state: 'new', holder };
    });
  }

  async finishIdempotent(scope: string, key: string, holder: string, response: StoredResponse): Promise<boolean> {
    const json = toJson(response);
    return this.writes.groupWrite(() => this.st.finishIdempotency.run(json, scope, key, holder).changes === 1);
  }

  async abandonIdempotent(scope: string, key: string, holder: string): Promise<boolean> {
    return this.writes.groupWrite(() => this.st.abandonIdempotency.run(scope, key, holder).changes === 1);
  }
}
