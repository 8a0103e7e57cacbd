/**
 * The Store contract against the local Redis (its own key prefix per run, deleted afterwards), plus what only
 * Redis has: pub/sub notifications across store instances, the key layout's hash tags, and the server going away.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { openRedisStore, parseRedisUrl } from '../../../src/store/redis/index.js';
import { openStore } from '../../../src/store/open.js';
import { StoreUnavailableError, type BasketKey } from '../../../src/store/store.js';
import { storeContract } from '../contract.js';
import { shopStoreContract } from '../shop-contract.js';
import { assertChangeSeenAcrossInstances, assertNoLostUpdateAcrossInstances } from '../helpers/races.js';
import { deletePrefix, newPrefix, REDIS_URL, startProxy } from '../helpers/services.js';

const prefixes: string[] = [];
const prefixed = (): { url: string; prefix: string } => {
  const prefix = newPrefix();
  prefixes.push(prefix);
  const url = new URL(REDIS_URL);
  url.searchParams.set('prefix', prefix);
  return { url: url.toString(), prefix };
};
after(async () => {
  for (const prefix of prefixes) await deletePrefix(REDIS_URL, prefix);
});

const contract = prefixed();
storeContract('redis', () => openStore(contract.url));
shopStoreContract('redis', () => openStore(contract.url));

const newKey = (): BasketKey => ({ partnerId: `p-${randomUUID()}`, userId: `u-${randomUUID()}` });
const state = (n: number) => ({ cart: [{ productId: 'A', count: n }], saved: [], checkout: [], lastChanged: n, expires: n + 1, session: null });

describe('Redis store', { timeout: 60_000 }, () => {
  it('parses single, TLS and cluster URLs', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6380/2?prefix=x:').nodes, [{ host: '127.0.0.1', port: 6380 }]);
    assert.equal(parseRedisUrl('redis://127.0.0.1:6380/2?prefix=x:').db, 2);
    assert.equal(parseRedisUrl('redis://127.0.0.1:6380/2?prefix=x:').prefix, 'x:');
    assert.equal(parseRedisUrl('rediss://:secret@h:1').password, 'secret');
    assert.equal(parseRedisUrl('rediss://:secret@h:1').tls, true);
    const cluster = parseRedisUrl('redis-cluster://a:7001,b:7002');
    assert.equal(cluster.cluster, true);
    assert.deepEqual(cluster.nodes, [
      { host: 'a', port: 7001 },
      { host: 'b', port: 7002 },
    ]);
    assert.throws(() => parseRedisUrl('redis://'));
  });

  it('ids with braces and colons cannot break out of their hash tag', async () => {
    const { url } = prefixed();
    const store = await openRedisStore(url);
    try {
      const a: BasketKey = { partnerId: 'p}{x', userId: 'u:1}' };
      const b: BasketKey = { partnerId: 'p', userId: '}{x:u:1}' };
      await store.updateBasket(a, () => ({ state: state(1), result: null }));
      await store.updateBasket(b, () => ({ state: state(2), result: null }));
      assert.deepEqual((await store.getBasket(a))?.state, state(1));
      assert.deepEqual((await store.getBasket(b))?.state, state(2));
    } finally {
      await store.close();
    }
  });

  it('three store instances incrementing one basket at once lose no update', async () => {
    const { url } = prefixed();
    const stores = await Promise.all([0, 1, 2].map(() => openRedisStore(url)));
    try {
      await assertNoLostUpdateAcrossInstances(stores);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a change through one store is reported to a listener on another (pub/sub)', async () => {
    const { url } = prefixed();
    const a = await openRedisStore(url);
    const b = await openRedisStore(url);
    try {
      await assertChangeSeenAcrossInstances(a, b);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('Redis going away surfaces as StoreUnavailableError quickly, and nothing is written', async () => {
    const { prefix } = prefixed();
    const target = new URL(REDIS_URL);
    const proxy = await startProxy(target.hostname, Number(target.port || 6379));
    const store = await openRedisStore(`redis://127.0.0.1:${proxy.port}?prefix=${encodeURIComponent(prefix)}`, { commandTimeoutMs: 1000, connectTimeoutMs: 1000 });
    const key = newKey();
    try {
      await store.ping();
      await proxy.cut();
      const started = Date.now();
      await assert.rejects(store.getBasket(key), StoreUnavailableError);
      await assert.rejects(store.updateBasket(key, () => ({ state: state(1), result: null })), StoreUnavailableError);
      await assert.rejects(store.reserveStock('p', 'r', [{ productId: 'A', count: 1 }]), StoreUnavailableError);
      await assert.rejects(store.ping(), StoreUnavailableError);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    } finally {
      await store.close();
    }
    const direct = await openRedisStore(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`);
    try {
      assert.equal(await direct.getBasket(key), null, 'no partial write');
    } finally {
      await direct.close();
    }
  });

  it('an unreachable Redis fails open with StoreUnavailableError', async () => {
    const proxy = await startProxy('127.0.0.1', 1);
    await proxy.cut();
    await assert.rejects(openRedisStore(`redis://127.0.0.1:${proxy.port}`, { connectTimeoutMs: 500 }), StoreUnavailableError);
  });
});
