/**
 * The timing wrapper of the store (src/metrics/store.ts) on a real SQLite store: it keeps the store's behaviour
 * (results, errors, a synchronous getBasketSync, kind) and times each call by operation and engine.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BasketError } from '../../src/domain/errors.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { instrumentStore } from '../../src/metrics/store.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { StoreUnavailableError, type BasketKey } from '../../src/store/store.js';
import { parsePrometheusText } from './prometheus-text.js';

const dir = mkdtempSync(path.join(tmpdir(), 'basket-metrics-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const OPS = 'basket_store_operation_duration_seconds';
const key: BasketKey = { partnerId: 'p', userId: 'u' };
const state = (n: number) => ({ cart: [{ productId: 'A', count: n }], saved: [], checkout: [], lastChanged: n, expires: Date.now() + 60_000, session: null });

describe('instrumentStore', () => {
  it('answers what the store answers, getBasketSync without a promise, and times each call', async () => {
    const metrics = new Metrics({ clustered: false });
    const inner = await openSqliteStore(path.join(dir, 'a.db'));
    const store = instrumentStore(inner, metrics);
    try {
      assert.equal(store.kind, 'sqlite');
      assert.equal(await store.updateBasket(key, () => ({ state: state(2), result: 'written' })), 'written');
      const sync = store.getBasketSync!(key);
      assert.ok(!(sync instanceof Promise), 'stays synchronous');
      assert.deepEqual(sync, inner.getBasketSync!(key));
      assert.deepEqual(await store.getBasket(key), sync);

      // an updater's domain error passes through unchanged and is no store failure
      const refusal = new BasketError('CART_LIMIT_REACHED');
      await assert.rejects(
        store.updateBasket(key, () => {
          throw refusal;
        }),
        (err) => err === refusal,
      );

      const m = parsePrometheusText(await metrics.registry.metrics());
      assert.equal(m.value(`${OPS}_count`, { operation: 'updateBasket', engine: 'sqlite' }), 2);
      assert.equal(m.value(`${OPS}_count`, { operation: 'getBasketSync', engine: 'sqlite' }), 1);
      assert.equal(m.value(`${OPS}_count`, { operation: 'getBasket', engine: 'sqlite' }), 1);
      assert.deepEqual(m.find('basket_store_unavailable_total'), []);
      // operations never called do not show
      assert.deepEqual(m.find(`${OPS}_count`, { operation: 'listOrders' }), []);
    } finally {
      await store.close();
    }
  });

  it('times every data method of the store; lifecycle and subscription calls are delegated untimed', async () => {
    const metrics = new Metrics({ clustered: false });
    const inner = await openSqliteStore(path.join(dir, 'b.db'));
    const store = instrumentStore(inner, metrics);
    try {
      const names = ['ping', 'hasCatalogue', 'outboxStats', 'purgeExpired', 'getComfort'] as const;
      await store.ping();
      await store.hasCatalogue('p');
      await store.outboxStats(Date.now());
      await store.purgeExpired(Date.now(), 10);
      await store.getComfort(key);
      const unsubscribe = store.onBasketChange(() => {});
      unsubscribe();
      await store.init();
      const m = parsePrometheusText(await metrics.registry.metrics());
      for (const operation of names) assert.equal(m.value(`${OPS}_count`, { operation, engine: 'sqlite' }), 1, operation);
      for (const operation of ['init', 'close', 'onBasketChange']) assert.deepEqual(m.find(`${OPS}_count`, { operation }), []);
    } finally {
      await store.close();
    }
  });

  it('times the shop store’s calls as shop.<method>, answering what it answers', async () => {
    const metrics = new Metrics({ clustered: false });
    const inner = await openSqliteStore(path.join(dir, 'd.db'));
    const store = instrumentStore(inner, metrics);
    try {
      assert.equal(await store.shop.getShopBasket('p', 'basket-1'), null);
      await store.shop.putOffers('p', []);
      assert.deepEqual(await store.shop.listNewestOffers('p', 5), []);
      await assert.rejects(store.shop.listNewestOffers('p', 0), RangeError);
      const m = parsePrometheusText(await metrics.registry.metrics());
      assert.equal(m.value(`${OPS}_count`, { operation: 'shop.getShopBasket', engine: 'sqlite' }), 1);
      assert.equal(m.value(`${OPS}_count`, { operation: 'shop.putOffers', engine: 'sqlite' }), 1);
      assert.equal(m.value(`${OPS}_count`, { operation: 'shop.listNewestOffers', engine: 'sqlite' }), 2);
      assert.deepEqual(m.find('basket_store_unavailable_total'), []);
    } finally {
      await store.close();
    }
  });

  it('counts calls that fail as unavailable, and rethrows their error', async () => {
    const metrics = new Metrics({ clustered: false });
    const store = instrumentStore(await openSqliteStore(path.join(dir, 'c.db')), metrics);
    await store.close();
    await assert.rejects(store.getBasket(key), StoreUnavailableError);
    assert.throws(() => store.getBasketSync!(key), StoreUnavailableError);
    const m = parsePrometheusText(await metrics.registry.metrics());
    assert.equal(m.value('basket_store_unavailable_total', { operation: 'getBasket', engine: 'sqlite' }), 1);
    assert.equal(m.value('basket_store_unavailable_total', { operation: 'getBasketSync', engine: 'sqlite' }), 1);
    assert.equal(m.value(`${OPS}_count`, { operation: 'getBasket', engine: 'sqlite' }), 1);
  });
});
