/**
 * Transfer tokens in Redis: a hash per token hash, in an expiry index for the purge; valid while now < expires.
 */
import type { TransferRecord, TransferStore } from '../store.js';
import { DAY, gcTtl, list, num, str, type RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import * as scripts from './scripts/index.js';

export class RedisTransfers implements TransferStore {
  private readonly keys: RedisKeys;

  constructor(private readonly conn: RedisConnection) {
    this.keys = conn.keys;
  }

  async putTransfer(tokenHash: string, record: TransferRecord): Promise<void> {
    const key = this.keys.transfer(tokenHash);
    // Index first: an entry without a record is dropped by the purge; a record without an entry would linger.
    await this.conn.cmd((c) => c.zadd(this.keys.gc('transfers'), record.expires, tokenHash));
    await this.conn.cmd((c) =>
      c.multi().del(key).hset(key, 'p', record.partnerId, 'u', record.userId, 'url', record.url, 'e', String(record.expires)).pexpire(key, gcTtl(record.expires, DAY)).exec(),
    );
  }

  async getTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const [p, u, url, e] = await this.conn.cmd((c) => c.hmget(this.keys.transfer(tokenHash), 'p', 'u', 'url', 'e'));
    if (!p || !u || url === null || url === undefined || !e || Number(e) <= now) return null;
    return { partnerId: p, userId: u, url, expires: Number(e) };
  }

  async takeTransfer(tokenHash: string, now: number): Promise<TransferRecord | null> {
    const r = await this.conn.script(scripts.TRANSFER_TAKE, [this.keys.transfer(tokenHash)], [now]);
    if (r === null) return null;
    const [p, u, url, e] = list(r).map(str);
    if (p === null || p === undefined || u === null || u === undefined || url === null || url === undefined) return null;
    return { partnerId: p, userId: u, url, expires: num(e) };
  }
}
