/**
 * The Redis purge against a write between its two steps: the purge looks at a due record (here: gone), then drops
 * its index entry. A write that re-creates the record in between moves the entry to the new expiry; the drop must
 * leave that entry, or the record is never purged through the index (only its key's TTL would remove it).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisConnection } from '../../../src/store/redis/connection.js';
import { purgeIndex } from '../../../src/store/redis/expiry.js';
import * as scripts from '../../../src/store/redis/scripts/index.js';
import { deletePrefix, newPrefix, REDIS_URL } from '../helpers/services.js';

const prefix = newPrefix();
after(() => deletePrefix(REDIS_URL, prefix));

/** A connection whose purge scripts are each followed by `between`, as if another process wrote right then. */
class WriteAfterLook extends RedisConnection {
  between: ((recordKey: string) => Promise<unknown>) | null = null;

  override async script(source: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const result = await super.script(source, keys, args);
    if (source === scripts.EXPIRING_PURGE && this.between) await this.between(keys[0]!);
    return result;
  }
}

describe('Redis expiry index: a write between the purge\'s look and its drop', () => {
  it('keeps the entry the write moved to its new expiry; a still-due entry of an absent record is dropped', async () => {
    const conn = new WriteAfterLook(new Redis(REDIS_URL), new Redis(REDIS_URL), prefix);
    try {
      const now = 1_000_000;
      const index = `${prefix}:gc:race`;
      const recordKey = (m: string) => `${prefix}:rec:${m}`;
      await conn.client.zadd(index, now - 1, 'rewritten', now - 1, 'gone');
      conn.between = async (looked) => {
        // another process re-creates `rewritten` with a later expiry, right after the purge found it absent
        if (looked === recordKey('rewritten')) {
          await conn.client.hset(recordKey('rewritten'), 'e', String(now + 60_000));
          await conn.client.zadd(index, now + 60_000, 'rewritten');
        }
      };
      assert.equal(await purgeIndex(conn, index, now, 10, recordKey, scripts.EXPIRING_PURGE), 0);
      assert.equal(await conn.client.zscore(index, 'rewritten'), String(now + 60_000));
      assert.equal(await conn.client.zscore(index, 'gone'), null);
    } finally {
      conn.client.disconnect();
      conn.subscriber.disconnect();
    }
  });
});
