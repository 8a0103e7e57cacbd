/**
 * Idempotency records in PostgreSQL: a row per (scope, key) with its fingerprint, state, lease, holder and stored
 * response.
 */
import { existingIdempotency, newIdempotencyHolder, type IdempotencyRow } from '../shared/checks.js';
import { toJson } from '../shared/codec.js';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../store.js';
import type { PgConnection } from './connection.js';

export class PgIdempotency implements IdempotencyStore {
  constructor(private readonly conn: PgConnection) {}

  async beginIdempotent(scope: string, key: string, fingerprint: string, now: number, ttlMs: number, leaseMs: number): Promise<IdempotencyBegin> {
    const holder = newIdempotencyHolder();
    return this.conn.tx(async (c): Promise<IdempotencyBegin> => {
      const inserted = await c.query(
        `INSERT INTO idempotency (scope, key, fingerprint, state, response, lease_until, expires, holder)
         VALUES ($1, $2, $3, 'running', NULL, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING RETURNING 1`,
        [scope, key, fingerprint, now + leaseMs, now + ttlMs, holder],
      );
      if (inserted.rowCount === 1) return { state: 'new', holder };
      const { rows } = await c.query<IdempotencyRow<StoredResponse>>(
        'SELECT fingerprint, state, response, lease_until, expires FROM idempotency WHERE scope = $1 AND key = $2 FOR UPDATE',
        [scope, key],
      );
      const existing = existingIdempotency(rows[0], fingerprint, now, (response) => response ?? { status: 0, body: null });
      if (existing !== null) return existing;
      // Absent (deleted meanwhile), expired, or running with a lapsed lease: this caller starts it.
      await c.query(
        `INSERT INTO idempotency (scope, key, fingerprint, state, response, lease_until, expires, holder)
         VALUES ($1, $2, $3, 'running', NULL, $4, $5, $6)
         ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'running',
           response = NULL, lease_until = excluded.lease_until, expires = excluded.expires, holder = excluded.holder`,
        [scope, key, fingerprint, now + leaseMs, now + ttlMs, holder],
      );
      return { state: 'new', holder };
    });
  }

  // Only the holder: a caller whose lease lapsed must not finish or delete the hold of the one that took over.
  async finishIdempotent(scope: string, key: string, holder: string, response: StoredResponse): Promise<boolean> {
    const r = await this.conn.q(
      `UPDATE idempotency SET state = 'done', response = $1::jsonb, lease_until = NULL
       WHERE scope = $2 AND key = $3 AND state = 'running' AND holder = $4`,
      [toJson(response), scope, key, holder],
    );
    return r.rowCount === 1;
  }

  async abandonIdempotent(scope: string, key: string, holder: string): Promise<boolean> {
    const r = await this.conn.q(
      `DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'running' AND holder = $3`,
      [scope, key, holder],
    );
    return r.rowCount === 1;
  }
}
