/**
 * The Store contract against a real 3-master Redis Cluster started for this file (and stopped afterwards),
 * plus checks that the keys really spread over the masters and that notifications cross instances.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import * as scripts from '../../../src/store/redis/scripts/index.js';
import { openRedisStore } from '../../../src/store/redis/index.js';
import { RedisKeys } from '../../../src/store/redis/keys.js';
import type { BasketKey, Store } from '../../../src/store/store.js';
import { storeContract } from '../contract.js';
import { shopBasket, shopStoreContract } from '../shop-contract.js';
import { assertChangeSeenAcrossInstances, assertNoLostUpdateAcrossInstances } from '../helpers/races.js';
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js';

let cluster: TestCluster | null = null;
const starting = startRedisCluster().then((c) => (cluster = c));
// Surface a failed start in the contract's before() rather than as an unhandled rejection.
starting.catch(() => undefined);
after(async () => {
  await cluster?.stop();
});

const url = async (): Promise<string> => `${(await starting).url}?prefix=basket-cluster-test:`;

storeContract('redis-cluster', async () => openRedisStore(await url()));
shopStoreContract('redis-cluster', async () => openRedisStore(await url()));

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

  /** Calls of the named commands served by all masters so far (INFO commandstats). */
  async function commandCalls(...names: string[]): Promise<number> {
    let calls = 0;
    for (const port of (await starting).ports) {
      const node = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
      try {
        const stats = await node.info('commandstats');
        for (const m of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (names.includes(m[1]!)) calls += Number(m[2]);
      } finally {
        node.disconnect();
      }
    }
    return calls;
  }
  const scriptCalls = () => commandCalls('evalsha', 'eval');

  it("a turn's baskets are read and written with one script call per master, not one per basket", async () => {
    const keys = Array.from({ length: 120 }, (_, i): BasketKey => ({ partnerId: 'batch', userId: `u${i}-${randomUUID()}` }));
    const before = await scriptCalls();
    const indexBefore = await commandCalls('zadd', 'zrem');
    const versions = await Promise.all(keys.map((key, i) => a.updateBasket(key, (cur) => ({ state: state(i), result: (cur?.version ?? 0) + 1 }))));
    assert.deepEqual(versions, keys.map(() => 1));
    const written = await scriptCalls();
    // three masters, a read batch and a write batch each; the expiry index (a slot of its own) in a ZADD for each
    // turn in which write batches came back (at most one per master)
    assert.ok(written - before <= 6, `${written - before} script calls for 120 new baskets`);
    const indexCalls = (await commandCalls('zadd', 'zrem')) - indexBefore;
    assert.ok(indexCalls >= 1 && indexCalls <= 3, `${indexCalls} expiry-index commands`);
    const read = await Promise.all(keys.map((key) => b.getBasket(key)));
    assert.deepEqual(read, keys.map((_, i) => ({ state: state(i), version: 1 })));
    assert.ok((await scriptCalls()) - written <= 3, 'one read call per master');
  });

  it('a node refusing a batch for a key it does not serve has written none of it', async () => {
    const c = await starting;
    const masters = c.ports.map((port) => new Redis({ port, host: '127.0.0.1', lazyConnect: true }));
    try {
      // one key per master: whichever master runs the script serves one of them and not the other two
      const keys: string[] = [];
      for (let i = 0; keys.length < 3 && i < 1000; i++) {
        const key = `basket-cluster-test:{refuse-${i}}:basket`;
        const slot = Number(await masters[0]!.cluster('KEYSLOT', key));
        const owner = (await masters[0]!.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
        const port = owner.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2][1];
        if (port !== undefined && !keys.some((k) => k.endsWith(`#${port}`))) keys.push(`${key}#${port}`);
      }
      assert.equal(keys.length, 3);
      const [first] = keys.map((k) => k.split('#')[0]!);
      const ownerPort = Number(keys[0]!.split('#')[1]);
      const node = masters[c.ports.indexOf(ownerPort)]!;
      const plain = keys.map((k) => k.split('#')[0]!);
      const args = ['chan', plain.length, ...plain, ...plain.flatMap(() => ['0', '{"x":1}', 9e12, '0', 60000, 'p'])];
      await assert.rejects(node.eval(scripts.NODE_BASKETS_CAS, 0, ...args), /non local key/);
      assert.equal(await node.exists(first!), 0, 'the key the node serves was not written either');
    } finally {
      for (const m of masters) m.disconnect();
    }
  });

  it('a batch a node refuses (a slot moved away) still lands every write of the turn once, one by one', async () => {
    const store = await openRedisStore(await url());
    try {
      // every basket sent to one master, as a slot map gone stale by a resharding would: it serves a third of them
      type Grouping = (cluster: Cluster, items: readonly unknown[], keyOf: (item: unknown) => string) => { node: Redis | null; items: unknown[] }[];
      const internals = store as unknown as { byNode: Grouping };
      internals.byNode = (cluster, items) => [{ node: cluster.nodes('master')[0]!, items: [...items] }];
      const keys = Array.from({ length: 30 }, (): BasketKey => ({ partnerId: 'stale', userId: randomUUID() }));
      await store.updateBasket(keys[0]!, () => ({ state: state(100), result: null }));
      const versions = await Promise.all(keys.map((key, i) => store.updateBasket(key, (cur) => ({ state: state(i), result: cur?.version ?? 0 }))));
      assert.deepEqual(versions, keys.map((_, i) => (i === 0 ? 1 : 0)));
      const read = await Promise.all(keys.map((key) => a.getBasket(key)));
      assert.deepEqual(read, keys.map((_, i) => ({ state: state(i), version: i === 0 ? 2 : 1 })), 'each basket written exactly once');
      assert.deepEqual(await Promise.all(keys.map((key) => store.getBasket(key))), read, 'and read back through the refused node too');
    } finally {
      await store.close();
    }
  });
});

describe('Redis Cluster shop store: the abandoned index in another slot than its baskets', { timeout: 60_000 }, () => {
  let store: Store;
  let direct: Cluster;
  const keys = new RedisKeys('basket-cluster-test:');
  before(async () => {
    store = await openRedisStore(await url());
    direct = new Cluster((await starting).ports.map((port) => ({ host: '127.0.0.1', port })));
  });
  after(async () => {
    await store?.close();
    direct?.disconnect();
  });

  const list = (partnerId: string) => store.shop.listAbandoned({ partnerId, createdAfter: 0, after: null, now: 0, limit: 10 });

  it('an entry left behind by a write that never removed it (a crash) is not listed, and is dropped', async () => {
    const p = `p-${randomUUID()}`;
    const [kept, stale] = [`basket-${randomUUID()}`, `basket-${randomUUID()}`];
    await store.shop.updateShopBasket(p, kept, () => ({ basket: shopBasket(p, kept, 1000), result: null }));
    await store.shop.updateShopBasket(p, stale, () => ({ basket: shopBasket(p, stale, 1001), result: null }));
    // the basket completed, written as step 2 of a Cluster write does, and no step 3 (the index removal)
    const completed = { ...shopBasket(p, stale, 1001), status: 'completed' };
    await direct.hset(keys.shopBasket(p, stale), 'v', 2, 'd', JSON.stringify(completed));
    const open = keys.shop(p, 'open');
    assert.equal(await direct.zcard(open), 2);
    assert.deepEqual((await list(p)).map((b) => b.id), [kept]);
    assert.deepEqual((await direct.zrange(open, 0, -1)).map((m) => m.slice(17)), [kept], 'the stale entry is gone');
  });

  it('index changes arriving out of order never undo a later one', async () => {
    const p = `p-${randomUUID()}`;
    const id = `basket-${randomUUID()}`;
    const openKeys = [keys.shop(p, 'open'), keys.shop(p, 'open-v')] as const;
    const member = `${String(4e15 + 1000).padStart(16, '0')}:${id}`;
    // version 3 (open) applied, then the removal made for version 2 arrives late
    assert.equal(await direct.eval(scripts.SHOP_INDEX_SET, 2, ...openKeys, id, 3, member, '1'), 1);
    assert.equal(await direct.eval(scripts.SHOP_INDEX_SET, 2, ...openKeys, id, 2, member, '0'), 0);
    // a reader that saw version 2 (not open) may not drop what version 3 added
    await direct.eval(scripts.SHOP_INDEX_DROP, 2, ...openKeys, id, 2, member);
    assert.deepEqual(await direct.zrange(openKeys[0], 0, -1), [member]);
    // the basket itself is written as version 3, open: listed
    await direct.hset(keys.shopBasket(p, id), 'v', 3, 'd', JSON.stringify(shopBasket(p, id, 1000)), 'e', 1000 + 14 * 86_400_000);
    assert.deepEqual((await list(p)).map((b) => b.id), [id]);
  });

  it('concurrent writers of one basket through two stores leave the index matching its status', async () => {
    const other = await openRedisStore(await url());
    try {
      const p = `p-${randomUUID()}`;
      const id = `basket-${randomUUID()}`;
      await store.shop.updateShopBasket(p, id, () => ({ basket: shopBasket(p, id, 1000), result: null }));
      // status flips between open and submitting from both stores at once; the last write decides
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? store : other).shop.updateShopBasket(p, id, (cur) => ({
            basket: { ...cur!.basket, status: cur!.basket.status === 'open' ? 'submitting' : 'open' },
            result: null,
          })),
        ),
      );
      const final = await store.shop.getShopBasket(p, id);
      assert.equal(final?.version, 21);
      assert.equal(final?.basket.status, 'open', 'twenty flips from open end open');
      assert.deepEqual((await list(p)).map((b) => b.id), [id]);
      await store.shop.updateShopBasket(p, id, (cur) => ({ basket: { ...cur!.basket, status: 'completed' }, result: null }));
      assert.deepEqual(await list(p), []);
      assert.equal(await direct.zcard(keys.shop(p, 'open')), 0);
    } finally {
      await other.close();
    }
  });
});
