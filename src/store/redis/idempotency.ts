/**
 * Idempotency records in Redis: a hash per (scope, key), in an expiry index for the purge. One key per record, so
 * each script touches one Cluster slot.
 */
import { newIdempotencyHolder } from '../shared/checks.js';
import { parseJson, toJson } from '../shared/codec.js';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../store.js';
import { DAY, gcTtl, list, num, str, type RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import * as scripts from './scripts/index.js';

export class RedisIdempotency implements IdempotencyStore {
  private readonly keys: RedisKeys;

  constructor(private readonly conn: RedisConnection) {
    this.keys = conn.keys;
  }

  async beginIdempotent(scope: string, key: string, fingerprint: string, now: number, ttlMs: number, leaseMs: number): Promise<IdempotencyBegin> {
    // LT keeps the earliest expiry seen; the purge moves an entry that is too early to the record's real expiry.
    await this.conn.cmd((c) => c.zadd(this.keys.gc('idem'), 'LT', now + ttlMs, JSON.stringify([scope, key])));
    // the token is made here: a script's random numbers are not fit for it
    const holder = newIdempotencyHolder();
    const args = [fingerprint, now, ttlMs, leaseMs, gcTtl(now + ttlMs, DAY), holder];
    const r = list(await this.conn.script(scripts.IDEMPOTENCY_BEGIN, [this.keys.idempotency(scope, key)], args));
    const state = str(r[0]);
    if (state === 'done') return { state: 'done', response: parseJson<StoredResponse>(str(r[1]) ?? 'null') };
    if (state === 'new') return { state, holder };
    if (state === 'running' || state === 'mismatch') return { state };
    throw new Error(`unexpected idempotency state ${String(state)}`);
  }

  async finishIdempotent(scope: string, key: string, holder: string, response: StoredResponse): Promise<boolean> {
    return num(await this.conn.script(scripts.IDEMPOTENCY_FINISH, [this.keys.idempotency(scope, key)], [toJson(response), holder])) === 1;
  }

  async abandonIdempotent(scope: string, key: string, holder: string): Promise<boolean> {
    return num(await this.conn.script(scripts.IDEMPOTENCY_ABANDON, [this.keys.idempotency(scope, key)], [holder])) === 1;
  }
}
