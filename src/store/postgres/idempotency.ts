/**
 * Idempotency records in PostgreSQL: a row per (scope, key) with its fingerprint, state, lease and stored response.
 */
import { existingIdempotency, type IdempotencyRow } from '../shared/checks.js';
import { toJson } from '../shared/codec.js';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../store.js';
import type { PgConnection } from './connection.js';

export class PgIdempotency implements IdempotencyStore {
  constructor(private readonly conn: PgConnection) {}

  async beginIdempotent(scope: string, key: string, fingerprint: string, now: number, ttlMs: number, leaseMs: number): Promise<IdempotencyBegin> {
    return this.conn.tx(async (c): Promise<IdempotencyBegin> => {
      const inserted = await c.query(
        `INSERT INTO idempotency (scope, key, fingerprint, state, response, lease_until, expires)
         VALUES ($1, $2, $3, 'running', NULL, $4, $5) ON CONFLICT (scope, key) DO NOTHING RETURNING 1`,
        [scope, key, fingerprint, now + leaseMs, now + ttlMs],
      );
      if (inserted.rowCount === 1) return { state: 'new' };
      const { rows } = await c.query<IdempotencyRow<StoredResponse>>(
        'SELECT fingerprint, state, response, lease_until, expires FROM idempotency WHERE scope = $1 AND key = $2 FOR UPDATE',
        [scope, key],
      );
      const existing = existingIdempotency(rows[0], fingerprint, now, (response) => response ?? { status: 0, body: null });
      if (existing !== null) return existing;
      // Absent (deleted meanwhile), expired, or running with a lapsed lease: this caller starts it.
      await c.query(
        `INSERT INTO idempotency (scope, key, fingerprint, state, response, lease_until, expires)
         VALUES ($1, $2, $3, 'running', NULL, $4, $5)
         ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'running',
           response = NULL, lease_until = excluded.lease_until, expires = excluded.expires`,
        [scope, key, fingerprint, now + leaseMs, now + ttlMs],
      );
      return { state: 'new' };
    });
  }

  async finishIdempotent(scope: string, key: string, response: StoredResponse): Promise<void> {
    await this.conn.q(
      `UPDATE idempotency SET state = 'done', response = $1::jsonb, lease_until = NULL
       WHERE scope = $2 AND key = $3 AND state = 'running'`,
      [toJson(response), scope, key],
    );
  }

  async abandonIdempotent(scope: string, key: string): Promise<void> {
    await this.conn.q(`DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'running'`, [scope, key]);
  }
}
