/**
 * The purge of expired transfer tokens and idempotency records in Redis, by walking their expiry indexes (zsets by
 * expiry). Reservations are not walked: their keys expire RESERVATION_RETENTION_MS after they were made.
 */
import { parseJson } from '../shared/codec.js';
import type { ExpiryStore } from '../store.js';
import { num, type RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import * as scripts from './scripts/index.js';

const PURGE_BATCH = 200;

/**
 * Walks an expiry index up to `now`, deleting each record the script finds expired. Index entries of absent
 * records are dropped (unless a write moved them meanwhile); those of records that turn out to live longer are moved
 * to their real expiry.
 */
export async function purgeIndex(conn: RedisConnection, index: string, now: number, limit: number, keyOf: (member: string) => string, script: string): Promise<number> {
  let deleted = 0;
  while (deleted < limit) {
    const due = await conn.cmd((c) => c.zrangebyscore(index, '-inf', now, 'LIMIT', 0, PURGE_BATCH));
    if (due.length === 0) break;
    for (const member of due) {
      if (deleted >= limit) break;
      const outcome = num(await conn.script(script, [keyOf(member)], [now]));
      if (outcome === 1) deleted++;
      if (outcome === 1 || outcome === 0 || outcome === -1) await conn.script(scripts.INDEX_DROP_IF_DUE, [index], [member, now]);
      else await conn.cmd((c) => c.zadd(index, outcome, member));
    }
  }
  return deleted;
}

export class RedisExpiry implements ExpiryStore {
  private readonly keys: RedisKeys;

  constructor(private readonly conn: RedisConnection) {
    this.keys = conn.keys;
  }

  async purgeExpired(now: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const transfers = await purgeIndex(this.conn, this.keys.gc('transfers'), now, limit, (m) => this.keys.transfer(m), scripts.EXPIRING_PURGE);
    if (transfers >= limit) return transfers;
    const idem = await purgeIndex(this.conn, 
      this.keys.gc('idem'),
      now,
      limit - transfers,
      (m) => {
        const [scope, key] = parseJson<[string, string]>(m);
        return this.keys.idempotency(scope, key);
      },
      scripts.EXPIRING_PURGE,
    );
    return transfers + idem;
  }
}
