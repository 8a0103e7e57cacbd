/**
 * BasketService against a real SQLite file: the product cache of add-to-basket (reads saved, writes through
 * the service seen at once, other writers' within the TTL, unknown ids never remembered).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { BasketService } from '../../src/service/baskets.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { BasketKey, Store } from '../../src/store/store.js';
import { productInput } from '../helpers/product.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'basket-service-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const product = (productId: string, variant: string | null) => productInput(productId, { variant });

/** Counts catalogue reads that reach the store (its own getProducts replaced; every other method untouched). */
function counting(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const getProducts = store.getProducts.bind(store);
  store.getProducts = (partnerId, ids) => {
    reads++;
    return getProducts(partnerId, ids);
  };
  return { store, reads: () => reads };
}

describe('BasketService product cache', () => {
  let clock = 0;
  let n = 0;
  beforeEach(() => {
    clock = 0;
    n++;
  });
  const open = async (productCacheMs: number) => {
    const raw = await openSqliteStore(path.join(dir, `cache-${n}-${productCacheMs}.db`));
    const { store, reads } = counting(raw);
    const service = new BasketService({
      store,
      limits: { maxCartLines: 20, maxLineCount: 99 },
      basketMs: 86_400_000,
      guestMs: 86_400_000,
      productCacheMs,
      monotonic: () => clock,
    });
    return { raw, service, reads };
  };
  const owner = { partnerId: 'p', userId: 'u', guest: false };

  it('reuses a catalogue hit within the TTL and reads again after it', async () => {
    const { raw, service, reads } = await open(1000);
    try {
      await raw.upsertProducts('p', [product('A', 'red')]);
      await service.assign(owner, 'A', 1);
      await service.assign(owner, 'A', 2);
      assert.equal(reads(), 1);
      clock += 1000;
      await service.assign(owner, 'A', 3);
      assert.equal(reads(), 2);
    } finally {
      await raw.close();
    }
  });

  it('another writer is seen once the TTL has passed', async () => {
    const { raw, service } = await open(1000);
    try {
      await raw.upsertProducts('p', [product('A', 'red')]);
      assert.deepEqual((await service.assign(owner, 'A', 1)).state.cart, [{ productId: 'A', count: 1, variant: 'red', addedPrice: 1000, addedCurrency: 'EUR' }]);
      await raw.upsertProducts('p', [product('A', 'blue')]); // as another process would, behind the service's back
      assert.deepEqual((await service.assign(owner, 'A', 1)).state.cart, [{ productId: 'A', count: 1, variant: 'red', addedPrice: 1000, addedCurrency: 'EUR' }]);
      clock += 1001;
      assert.deepEqual((await service.assign(owner, 'A', 1)).state.cart, [{ productId: 'A', count: 1, variant: 'blue', addedPrice: 1000, addedCurrency: 'EUR' }]);
    } finally {
      await raw.close();
    }
  });

  it('a catalogue write through the service is seen at once', async () => {
    const { raw, service } = await open(60_000);
    try {
      await service.upsertProducts('p', [product('A', 'red')]);
      await service.assign(owner, 'A', 1);
      await service.upsertProducts('p', [product('A', 'blue')]);
      assert.deepEqual((await service.assign(owner, 'A', 1)).state.cart, [{ productId: 'A', count: 1, variant: 'blue', addedPrice: 1000, addedCurrency: 'EUR' }]);
    } finally {
      await raw.close();
    }
  });

  it('a read that overlapped a catalogue write through the service is used once, not remembered', async () => {
    const { raw, service } = await open(60_000);
    try {
      await raw.upsertProducts('p', [product('A', 'red')]);
      // the next catalogue read answers only when released, after the write below has finished
      const getProducts = raw.getProducts;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      raw.getProducts = async (partnerId, ids) => {
        const read = await getProducts(partnerId, ids); // reads 'red' now
        await gate;
        return read;
      };
      const slow = service.assign(owner, 'A', 1);
      await service.upsertProducts('p', [product('A', 'blue')]);
      release();
      assert.deepEqual((await slow).state.cart, [{ productId: 'A', count: 1, variant: 'red', addedPrice: 1000, addedCurrency: 'EUR' }]);
      raw.getProducts = getProducts;
      assert.deepEqual((await service.assign(owner, 'A', 1)).state.cart, [{ productId: 'A', count: 1, variant: 'blue', addedPrice: 1000, addedCurrency: 'EUR' }]);
    } finally {
      await raw.close();
    }
  });

  it('never remembers an unknown product: it is found as soon as it is imported', async () => {
    const { raw, service } = await open(60_000);
    try {
      await raw.upsertProducts('p', [product('A', null)]);
      await assert.rejects(service.assign(owner, 'B', 1), { kind: 'PRODUCT_NOT_FOUND' });
      await raw.upsertProducts('p', [product('B', null)]);
      assert.deepEqual((await service.assign(owner, 'B', 1)).state.cart, [{ productId: 'B', count: 1, addedPrice: 1000, addedCurrency: 'EUR' }]);
    } finally {
      await raw.close();
    }
  });

  it('basket problems: one catalogue read, then from memory (synchronously) within the TTL; writes through the service seen at once', async () => {
    const { raw, service, reads } = await open(1000);
    try {
      await raw.upsertProducts('p', [productInput('A', { stock: 5 }), productInput('B')]);
      await service.assign(owner, 'A', 2);
      await service.assign(owner, 'B', 1);
      const before = reads();
      const state = () => service.readSync(owner)!.state;
      // adding them remembered them
      assert.deepEqual(service.problemsSync('p', state()), []);
      assert.equal(reads(), before);
      clock += 1001;
      assert.equal(service.problemsSync('p', state()), undefined, 'forgotten after the TTL');
      assert.deepEqual(await service.problems('p', state()), []);
      assert.equal(reads(), before + 1, 'one read for every line');
      assert.deepEqual(service.problemsSync('p', state()), []);
      assert.deepEqual(service.problemsSync('p', state()), []);
      assert.equal(reads(), before + 1);

      await service.upsertProducts('p', [productInput('A', { stock: 1 })]);
      assert.deepEqual(await service.problems('p', state()), [{ productId: 'A', code: 'INSUFFICIENT_STOCK', list: 'cart', available: 1 }]);
      await raw.upsertProducts('p', [productInput('A', { stock: 0 })]); // another process: seen once the TTL has passed
      assert.deepEqual(service.problemsSync('p', state()), [{ productId: 'A', code: 'INSUFFICIENT_STOCK', list: 'cart', available: 1 }]);
      clock += 1001;
      assert.equal(service.problemsSync('p', state()), undefined);
      assert.deepEqual(await service.problems('p', state()), [{ productId: 'A', code: 'OUT_OF_STOCK', list: 'cart' }]);
    } finally {
      await raw.close();
    }
  });

  it('TTL 0 reads the store every time', async () => {
    const { raw, service, reads } = await open(0);
    try {
      await raw.upsertProducts('p', [product('A', null)]);
      await service.assign(owner, 'A', 1);
      await service.assign(owner, 'A', 2);
      assert.equal(reads(), 2);
    } finally {
      await raw.close();
    }
  });
});

describe('BasketService reads', () => {
  it('readSync answers what read answers on SQLite (expiry included), and undefined for a store without synchronous reads', async () => {
    const store = await openSqliteStore(path.join(dir, 'reads.db'));
    let now = 1_000_000;
    const options = { limits: { maxCartLines: 20, maxLineCount: 99 }, basketMs: 60_000, guestMs: 60_000, now: () => now };
    const service = new BasketService({ store, ...options });
    const owner = { partnerId: 'p', userId: 'reader', guest: false };
    try {
      await service.assign(owner, 'A', 2);
      const sync = service.readSync(owner);
      assert.deepEqual(sync, await service.read(owner));
      assert.deepEqual(sync?.state.cart, [{ productId: 'A', count: 2 }]);
      assert.equal(sync?.version, 1);
      now += 60_000; // expired: both read a fresh empty basket, at version 0
      assert.deepEqual(service.readSync(owner), await service.read(owner));
      assert.deepEqual(service.readSync(owner)?.state.cart, []);
      assert.equal(service.readSync(owner)?.version, 0);
      // the same store seen through an object without getBasketSync: the caller must take the promise
      const asyncOnly: Store = Object.create(store, {
        getBasketSync: { value: undefined },
        getBasket: { value: (key: BasketKey) => store.getBasket(key) },
      });
      const other = new BasketService({ store: asyncOnly, ...options });
      assert.equal(other.readSync(owner), undefined);
      assert.deepEqual(await other.read(owner), await service.read(owner));
    } finally {
      await store.close();
    }
  });
});
