/**
 * The rate-limit counter contract on every engine (SQLite file, local PostgreSQL, local Redis, a 3-master Redis
 * Cluster started here), plus what each engine does on its own: where the counters live and how old windows go.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Redis } from 'ioredis';
import { openRateLimitStore, PURGE_EVERY } from '../../src/store/rate-limits.js';
import { rateLimitFile } from '../../src/store/sqlite/rate-limits.js';
import { rateLimitContract } from './rate-limits.contract.js';
import { startRedisCluster, type TestCluster } from './helpers/redis-cluster.js';
import { deletePrefix, dropSchema, newPrefix, newSchema, PG_URL, pgUrlWithSchema, REDIS_URL } from './helpers/services.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);

const dir = mkdtempSync(path.join(tmpdir(), 'basket-rate-limits-'));
const schema = newSchema();
const prefix = newPrefix();
const redisUrl = (() => {
  const u = new URL(REDIS_URL);
  u.searchParams.set('prefix', prefix);
  return u.toString();
})();
let cluster: TestCluster | null = null;
const clusterStarting = startRedisCluster().then((c) => (cluster = c));
clusterStarting.catch(() => undefined);

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await dropSchema(schema);
  await deletePrefix(REDIS_URL, prefix);
  await cluster?.stop();
});

const sqliteUrl = `sqlite:${path.join(dir, 'basket.db')}`;
const pgUrl = pgUrlWithSchema(schema);

rateLimitContract('sqlite', () => openRateLimitStore(sqliteUrl));
rateLimitContract('postgres', () => openRateLimitStore(pgUrl));
rateLimitContract('redis', () => openRateLimitStore(redisUrl));
rateLimitContract('redis-cluster', async () => openRateLimitStore(`${(await clusterStarting).url}?prefix=rl-cluster-test:`));

describe('rate-limit counters per engine', { timeout: 60_000 }, () => {
  it('SQLite: a file of its own next to the store file, and expired windows are purged as takes go on', async () => {
    assert.equal(rateLimitFile('/data/basket.db'), '/data/basket.rate-limits.db');
    assert.equal(rateLimitFile('./x/store'), 'x/store.rate-limits');
    assert.equal(rateLimitFile(':memory:'), ':memory:');
    const url = `sqlite:${path.join(dir, 'purge', 'basket.db')}`;
    const s = await openRateLimitStore(url);
    try {
      assert.ok(existsSync(path.join(dir, 'purge', 'basket.rate-limits.db')));
      for (let i = 0; i < 10; i++) await s.take(`old-${i}`, MINUTE, 1, 5, T0);
      // a minute later the old windows have ended; the purge comes every PURGE_EVERY takes
      for (let i = 0; i < PURGE_EVERY; i++) await s.take(`new-${i % 3}`, MINUTE, 1, 1000, T0 + MINUTE);
      const db = new Database(path.join(dir, 'purge', 'basket.rate-limits.db'), { readonly: true });
      try {
        const left = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM rate_limits WHERE key LIKE 'old-%'`).get()!;
        assert.equal(left.n, 0);
        const live = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM rate_limits`).get()!;
        assert.equal(live.n, 3);
      } finally {
        db.close();
      }
    } finally {
      await s.close();
    }
  });

  it('PostgreSQL: an UNLOGGED table in the URL schema, and expired windows are purged as takes go on', async () => {
    const own = newSchema();
    const s = await openRateLimitStore(pgUrlWithSchema(own));
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      for (let i = 0; i < 10; i++) await s.take(`old-${i}`, MINUTE, 1, 5, T0);
      const { rows } = await client.query<{ relpersistence: string }>(
        `SELECT c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'rate_limits'`,
        [own],
      );
      assert.deepEqual(rows, [{ relpersistence: 'u' }]);
      for (let i = 0; i < PURGE_EVERY; i++) await s.take(`new-${i % 3}`, MINUTE, 1, 1000, T0 + MINUTE);
      // the purge runs in the background after the take that starts it
      let old = -1;
      for (let tries = 0; tries < 50 && old !== 0; tries++) {
        old = Number((await client.query(`SELECT count(*) AS n FROM ${pg.escapeIdentifier(own)}.rate_limits WHERE key LIKE 'old-%'`)).rows[0].n);
        if (old !== 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(old, 0);
    } finally {
      await client.end();
      await s.close();
      await dropSchema(own);
    }
  });

  it('Redis: one key per window under the prefix with its own hash tag, expiring at the window end (plus a grace)', async () => {
    const s = await openRateLimitStore(redisUrl);
    const redis = new Redis(REDIS_URL);
    try {
      const now = Date.now();
      const start = now - (now % MINUTE);
      await s.take('ip:{odd}key', MINUTE, 2, 5, now);
      const key = `${prefix}{rl:${encodeURIComponent('ip:{odd}key')}}:${start}`;
      assert.equal(await redis.get(key), '2');
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= start + MINUTE - now + 5000, `PTTL ${ttl}`);
      // only the first take of a window sets the expiry
      await s.take('ip:{odd}key', MINUTE, 1, 5, now);
      assert.ok((await redis.pttl(key)) <= ttl);
    } finally {
      redis.disconnect();
      await s.close();
    }
  });
});
