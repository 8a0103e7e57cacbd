/**
 * The Store contract against a real 3-master Redis Cluster started for this file (and stopped afterwards),
 * plus checks that the keys really spread over the masters and that notifications cross instances.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { openRedisStore } from '../../src/store/redis.js';
import type { BasketKey, Store } from '../../src/store/store.js';
import { storeContract } from './contract.js';
import { assertChangeSeenAcrossInstances, assertNoLostUpdateAcrossInstances } from './helpers/races.js';
import { startRedisCluster, type TestCluster } from './helpers/redis-cluster.js';

let cluster: TestCluster | null = null;
const starting = startRedisCluster().then((c) => (cluster = c));
// Surface a failed start in the contract's before() rather than as an unhandled rejection.
starting.catch(() => undefined);
after(async () => {
  await cluster?.stop();
});

const url = async (): Promise<string> => `${(await starting).url}?prefix=basket-cluster-test:`;

storeContract('redis-cluster', async () => openRedisStore(await url()));

const state = (n: number) => ({ cart: [{ productId: 'A', count: n }], saved: [], checkout: [], lastChanged: n, expires: n + 1, session: null });

describe('Redis Cluster store', { timeout: 60_000 }, () => {
  let a: Store;
  let b: Store;
  before(async () => {
    a = await openRedisStore(await url());
    b = await openRedisStore(await url());
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  it('baskets of different users land on every master', async () => {
    for (let i = 0; i < 60; i++) {
      const key: BasketKey = { partnerId: 'spread', userId: `u${i}-${randomUUID()}` };
      await a.updateBasket(key, () => ({ state: state(1), result: null }));
    }
    const c = await starting;
    const direct = new Cluster(c.ports.map((port) => ({ host: '127.0.0.1', port })));
    try {
      await direct.ping();
      const counts = await Promise.all(
        direct.nodes('master').map(async (node) => (await node.keys('basket-cluster-test:{p:spread:*')).length),
      );
      assert.equal(counts.length, 3);
      for (const n of counts) assert.ok(n > 0, `every master holds baskets: ${counts.join(', ')}`);
    } finally {
      direct.disconnect();
    }
  });

  it('two store instances incrementing one basket at once lose no update', async () => {
    await assertNoLostUpdateAcrossInstances([a, b]);
  });

  it('a change through one store is reported to a listener on another', async () => {
    await assertChangeSeenAcrossInstances(a, b);
  });
});
