/**
 * The ShopStore contract (src/store/interface/shop.ts): every engine runs this suite unchanged on `store.shop`. It
 * isolates its data with random partner ids, so the store under test may be shared and persistent; times are
 * passed in. The purge test uses expiry times in 1970, which no other test writes, so that it only sees its own
 * baskets in a shared store.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Offer, ShopBasket, ShopOrder, Subscription } from '../../src/domain/shop/records.js';
import {
  DuplicateOrderError,
  OfferVersionConflictError,
  SubscriptionNameConflictError,
  type AbandonedQuery,
  type ShopKeyset,
  type ShopStore,
  type Store,
  type StoredShopBasket,
} from '../../src/store/store.js';

const uid = (prefix: string): string => `${prefix}-${randomUUID()}`;
const newPartner = (): string => uid('partner');
const newBasketId = (): string => `basket-${randomUUID()}`;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

const DAY = 86_400_000;
const LIFETIME = 14 * DAY;

export function offer(id: string, version: string, extra: Partial<Offer> = {}): Offer {
  return {
    id,
    version,
    name: `Offer ${id} ${version}`,
    path: `/offers/${id}`,
    type: 'offer',
    price: 999,
    currency: 'EUR',
    taxRateBp: 2000,
    term: { length: 1, unit: 'month' },
    products: [{ productCode: 'P1', path: '/products/p1' }],
    upgrades: [],
    downgrades: [],
    crossSells: [],
    ...extra,
  };
}

/** The same content with its keys in reverse order: equal content must compare equal whatever the key order. */
function reordered<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).reverse()) as T;
}

export function shopBasket(partnerId: string, id: string, created: number, extra: Partial<ShopBasket> = {}): ShopBasket {
  return {
    id,
    partnerId,
    orderType: 'new',
    externalId: null,
    items: [],
    status: 'open',
    submission: null,
    created,
    updated: created,
    expires: created + LIFETIME,
    details: { count: 0, nested: { a: [1, 2, 3] } },
    ...extra,
  };
}

function shopOrder(partnerId: string, id: string, created: number, extra: Partial<ShopOrder> = {}): ShopOrder {
  return {
    id,
    partnerId,
    basketId: newBasketId(),
    externalId: null,
    status: 'pending',
    total: 1998,
    currency: 'EUR',
    paymentProvider: 'sandbox',
    paymentRef: uid('pay'),
    created,
    updated: created,
    details: { orderReference: 'R-1' },
    ...extra,
  };
}

function subscription(partnerId: string, id: string, name: string, extra: Partial<Subscription> = {}): Subscription {
  return {
    id,
    partnerId,
    name,
    customer: { email: 'a@example.com', firstName: 'A', lastName: 'B' },
    offer: { id: 'o1', version: 'v1' },
    addOns: [],
    termStart: 1_000,
    termEnd: 2_000,
    pendingChange: null,
    ...extra,
  };
}

const countOf = (stored: StoredShopBasket | null): number => (stored?.basket.details['count'] as number | undefined) ?? 0;

/** Creates (or overwrites) a basket as given. */
async function put(shop: ShopStore, basket: ShopBasket): Promise<void> {
  await shop.updateShopBasket(basket.partnerId, basket.id, () => ({ basket, result: null }));
}

/** Every abandoned basket of a partner, page by page, each page starting after the last one seen. */
async function allAbandoned(shop: ShopStore, partnerId: string, now: number, limit: number, createdAfter = 0): Promise<ShopBasket[]> {
  const out: ShopBasket[] = [];
  let after: ShopKeyset | null = null;
  for (;;) {
    const page = await shop.listAbandoned({ partnerId, createdAfter, after, now, limit });
    out.push(...page);
    const last = page[page.length - 1];
    if (page.length < limit || last === undefined) return out;
    after = { created: last.created, id: last.id };
  }
}

const byKeyset = (a: { created: number; id: string }, b: { created: number; id: string }): number =>
  a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function shopStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`ShopStore contract: ${name}`, { timeout: 120_000 }, () => {
    let store: Store;
    let shop: ShopStore;
    const T = Date.now();

    before(async () => {
      store = await open();
      shop = store.shop;
    });
    after(async () => {
      await store.close();
    });

    describe('offers', () => {
      it('keeps every version addressable and points to the newest loaded', async () => {
        const p = newPartner();
        assert.equal(await shop.getOffer(p, { id: 'A', version: 'v1' }), null);
        await shop.putOffers(p, [offer('A', 'v1')]);
        await shop.putOffers(p, [offer('A', 'v2', { price: 1299 })]);
        assert.deepEqual(await shop.getOffer(p, { id: 'A', version: 'v1' }), offer('A', 'v1'));
        assert.deepEqual(await shop.getOffer(p, { id: 'A', version: 'v2' }), offer('A', 'v2', { price: 1299 }));
        assert.deepEqual(await shop.getNewestOffers(p, ['A']), [offer('A', 'v2', { price: 1299 })]);
        // the same content again (keys in another order) is a no-op: the newest stays v2
        await shop.putOffers(p, [reordered(offer('A', 'v1'))]);
        assert.deepEqual((await shop.getNewestOffers(p, ['A'])).map((o) => o.version), ['v2']);
      });

      it('within one call the later entry becomes the newest', async () => {
        const p = newPartner();
        await shop.putOffers(p, [offer('A', 'v3'), offer('A', 'v1'), offer('B', 'v1')]);
        assert.deepEqual((await shop.getNewestOffers(p, ['A', 'B'])).map((o) => `${o.id}:${o.version}`), ['A:v1', 'B:v1']);
      });

      it('rejects a held version with other content and writes nothing of the call', async () => {
        const p = newPartner();
        await shop.putOffers(p, [offer('A', 'v1')]);
        await assert.rejects(
          shop.putOffers(p, [offer('X', 'v1'), offer('A', 'v2'), offer('A', 'v1', { price: 1 })]),
          (err) => err instanceof OfferVersionConflictError && err.ref.id === 'A' && err.ref.version === 'v1',
        );
        assert.equal(await shop.getOffer(p, { id: 'X', version: 'v1' }), null);
        assert.equal(await shop.getOffer(p, { id: 'A', version: 'v2' }), null);
        assert.deepEqual(await shop.getNewestOffers(p, ['A', 'X']), [offer('A', 'v1')]);
        assert.deepEqual(await shop.getOffer(p, { id: 'A', version: 'v1' }), offer('A', 'v1'));
      });

      it('rejects one version given twice with other content in one call', async () => {
        const p = newPartner();
        await assert.rejects(shop.putOffers(p, [offer('A', 'v1'), offer('A', 'v1', { price: 5 })]), OfferVersionConflictError);
        assert.equal(await shop.getOffer(p, { id: 'A', version: 'v1' }), null);
      });

      it('answers the newest offers in the order asked, leaving out missing ids', async () => {
        const p = newPartner();
        await shop.putOffers(p, [offer('A', 'v1'), offer('B', 'v1'), offer('C', 'v1', { type: 'add_on', term: null })]);
        assert.deepEqual((await shop.getNewestOffers(p, ['C', 'missing', 'A'])).map((o) => o.id), ['C', 'A']);
        assert.deepEqual(await shop.getNewestOffers(p, []), []);
      });

      it('lists the newest version of every offer by id, at most limit', async () => {
        const p = newPartner();
        await shop.putOffers(p, [offer('c', 'v1'), offer('a', 'v1'), offer('b', 'v1'), offer('a', 'v2')]);
        assert.deepEqual((await shop.listNewestOffers(p, 10)).map((o) => `${o.id}:${o.version}`), ['a:v2', 'b:v1', 'c:v1']);
        assert.deepEqual((await shop.listNewestOffers(p, 2)).map((o) => o.id), ['a', 'b']);
      });

      it('keeps partners apart', async () => {
        const p = newPartner();
        const q = newPartner();
        await shop.putOffers(p, [offer('A', 'v1')]);
        // another partner may load other content under the same id and version
        await shop.putOffers(q, [offer('A', 'v1', { price: 1 })]);
        assert.equal((await shop.getOffer(p, { id: 'A', version: 'v1' }))?.price, 999);
        assert.equal((await shop.getOffer(q, { id: 'A', version: 'v1' }))?.price, 1);
        assert.deepEqual(await shop.listNewestOffers(newPartner(), 10), []);
      });
    });

    describe('checkout baskets', () => {
      it('reads an unknown basket as null', async () => {
        assert.equal(await shop.getShopBasket(newPartner(), newBasketId()), null);
      });

      it('creates through fn(null), returns fn’s result and round-trips the basket', async () => {
        const p = newPartner();
        const id = newBasketId();
        const seen: (StoredShopBasket | null)[] = [];
        const b = shopBasket(p, id, T, {
          externalId: 'ext-1',
          items: [
            {
              id: 'i1',
              type: 'offer',
              offer: { id: 'A', version: 'v1' },
              productId: null,
              parentId: null,
              quantity: 2,
              name: 'A',
              unitPrice: 999,
              currency: 'EUR',
              taxRateBp: 2000,
            },
          ],
          submission: { orderId: 'order-1', started: T },
        });
        const result = await shop.updateShopBasket(p, id, (current) => {
          seen.push(current);
          return { basket: b, result: 'created' };
        });
        assert.equal(result, 'created');
        assert.ok(seen.length >= 1 && seen.every((s) => s === null));
        const stored = await shop.getShopBasket(p, id);
        assert.deepEqual(stored?.basket, b);
        assert.ok(Number.isInteger(stored?.version));
      });

      it('increments the version by one per write; keep writes nothing', async () => {
        const p = newPartner();
        const id = newBasketId();
        await put(shop, shopBasket(p, id, T));
        const first = await shop.getShopBasket(p, id);
        assert.ok(first);
        const seenVersion = await shop.updateShopBasket(p, id, (current) => ({
          basket: { ...current!.basket, updated: T + 1 },
          result: current!.version,
        }));
        assert.equal(seenVersion, first.version);
        assert.equal((await shop.getShopBasket(p, id))?.version, first.version + 1);
        assert.equal(await shop.updateShopBasket(p, id, () => ({ keep: true, result: 'kept' })), 'kept');
        assert.equal((await shop.getShopBasket(p, id))?.version, first.version + 1);
        // keep on an absent basket creates nothing
        const absent = newBasketId();
        await shop.updateShopBasket(p, absent, () => ({ keep: true, result: null }));
        assert.equal(await shop.getShopBasket(p, absent), null);
      });

      it('a throwing fn writes nothing and its error reaches the caller unchanged', async () => {
        const p = newPartner();
        const id = newBasketId();
        await put(shop, shopBasket(p, id, T));
        const before = await shop.getShopBasket(p, id);
        const refusal = new Error('refused');
        await assert.rejects(
          shop.updateShopBasket(p, id, () => {
            throw refusal;
          }),
          (err) => err === refusal,
        );
        assert.deepEqual(await shop.getShopBasket(p, id), before);
        const fresh = newBasketId();
        await assert.rejects(
          shop.updateShopBasket(p, fresh, () => {
            throw refusal;
          }),
          (err) => err === refusal,
        );
        assert.equal(await shop.getShopBasket(p, fresh), null);
      });

      it('refuses a basket that is not the one asked for', async () => {
        const p = newPartner();
        const id = newBasketId();
        await assert.rejects(shop.updateShopBasket(p, id, () => ({ basket: shopBasket(p, newBasketId(), T), result: null })));
        await assert.rejects(shop.updateShopBasket(p, id, () => ({ basket: shopBasket(newPartner(), id, T), result: null })));
        assert.equal(await shop.getShopBasket(p, id), null);
      });

      it('loses no update under concurrency (one instance and two)', async () => {
        const other = await open();
        try {
          const p = newPartner();
          const id = newBasketId();
          const N = 20;
          const increment = (s: ShopStore) =>
            s.updateShopBasket(p, id, (current) => {
              const count = countOf(current) + 1;
              const base = current?.basket ?? shopBasket(p, id, T);
              return { basket: { ...base, details: { ...base.details, count } }, result: count };
            });
          const seen = await Promise.all(range(N).map((i) => increment(i % 2 === 0 ? shop : other.shop)));
          assert.deepEqual(
            seen.sort((a, b) => a - b),
            range(N).map((i) => i + 1),
            'every committed increment saw a distinct value',
          );
          const stored = await shop.getShopBasket(p, id);
          assert.equal(countOf(stored), N);
          assert.equal(stored?.version, (await other.shop.getShopBasket(p, id))?.version);
        } finally {
          await other.close();
        }
      });

      it('keeps partners apart', async () => {
        const p = newPartner();
        const id = newBasketId();
        await put(shop, shopBasket(p, id, T));
        assert.equal(await shop.getShopBasket(newPartner(), id), null);
      });
    });

    describe('external ids', () => {
      it('points nowhere until claimed; a claim is a compare-and-set', async () => {
        const p = newPartner();
        const [a, b, c] = [newBasketId(), newBasketId(), newBasketId()];
        assert.equal(await shop.getExternalId(p, 'ext'), null);
        assert.equal(await shop.claimExternalId(p, 'ext', a, null), a);
        assert.equal(await shop.getExternalId(p, 'ext'), a);
        // expected nothing, but it points to a: not moved
        assert.equal(await shop.claimExternalId(p, 'ext', b, null), a);
        // expected c, but it points to a: not moved
        assert.equal(await shop.claimExternalId(p, 'ext', b, c), a);
        assert.equal(await shop.claimExternalId(p, 'ext', b, a), b);
        assert.equal(await shop.getExternalId(p, 'ext'), b);
        assert.equal(await shop.getExternalId(newPartner(), 'ext'), null);
      });

      it('concurrent claims from nothing have exactly one winner', async () => {
        const other = await open();
        try {
          const p = newPartner();
          const ids = range(12).map(() => newBasketId());
          const answers = await Promise.all(ids.map((id, i) => (i % 2 === 0 ? shop : other.shop).claimExternalId(p, 'race', id, null)));
          const winner = await shop.getExternalId(p, 'race');
          assert.ok(winner !== null && ids.includes(winner));
          assert.deepEqual(answers, ids.map(() => winner), 'every claimer sees the one winner');
        } finally {
          await other.close();
        }
      });

      it('concurrent claims from the same basket have exactly one winner', async () => {
        const p = newPartner();
        const first = newBasketId();
        await shop.claimExternalId(p, 'race', first, null);
        const ids = range(8).map(() => newBasketId());
        const answers = await Promise.all(ids.map((id) => shop.claimExternalId(p, 'race', id, first)));
        const winner = await shop.getExternalId(p, 'race');
        assert.ok(winner !== null && ids.includes(winner));
        assert.equal(answers.filter((a, i) => a === ids[i]).length, 1);
        assert.deepEqual(answers, ids.map(() => winner));
      });
    });

    describe('abandoned baskets', () => {
      it('lists open baskets only: the index follows the status', async () => {
        const p = newPartner();
        const [a, b] = [newBasketId(), newBasketId()];
        await put(shop, shopBasket(p, a, T + 1));
        await put(shop, shopBasket(p, b, T + 2));
        const list = () => shop.listAbandoned({ partnerId: p, createdAfter: 0, after: null, now: T, limit: 10 }).then((l) => l.map((x) => x.id));
        assert.deepEqual(await list(), [a, b]);
        const setStatus = (id: string, status: ShopBasket['status']) =>
          shop.updateShopBasket(p, id, (c) => ({ basket: { ...c!.basket, status }, result: null }));
        await setStatus(a, 'submitting');
        assert.deepEqual(await list(), [b]);
        await setStatus(b, 'completed');
        assert.deepEqual(await list(), []);
        // a failed payment puts a basket back to open
        await setStatus(a, 'open');
        assert.deepEqual(await list(), [a]);
        const listed = await shop.listAbandoned({ partnerId: p, createdAfter: 0, after: null, now: T, limit: 10 });
        assert.deepEqual(listed, [(await shop.getShopBasket(p, a))!.basket]);
      });

      it('pages by (created, id), exclusive, through equal created times', async () => {
        const p = newPartner();
        const baskets = range(23).map((i) => shopBasket(p, newBasketId(), T + (i % 3)));
        await Promise.all(baskets.map((b) => put(shop, b)));
        const expected = [...baskets].sort(byKeyset).map((b) => b.id);
        for (const limit of [1, 4, 23, 1000]) {
          assert.deepEqual((await allAbandoned(shop, p, T, limit)).map((b) => b.id), expected, `pages of ${limit}`);
        }
        // starting after a position that is not a basket's
        const afterMid = await shop.listAbandoned({ partnerId: p, createdAfter: 0, after: { created: T + 1, id: '' }, now: T, limit: 1000 });
        assert.deepEqual(afterMid.map((b) => b.id), [...baskets].sort(byKeyset).filter((b) => b.created >= T + 1).map((b) => b.id));
      });

      it('leaves out baskets created at or before createdAfter and those expired at now', async () => {
        const p = newPartner();
        const early = shopBasket(p, newBasketId(), T);
        const late = shopBasket(p, newBasketId(), T + 10);
        const expiring = shopBasket(p, newBasketId(), T + 20, { expires: T + 100 });
        for (const b of [early, late, expiring]) await put(shop, b);
        const list = (createdAfter: number, now: number) =>
          shop.listAbandoned({ partnerId: p, createdAfter, after: null, now, limit: 10 }).then((l) => l.map((x) => x.id));
        assert.deepEqual(await list(0, T), [early.id, late.id, expiring.id]);
        assert.deepEqual(await list(T, T), [late.id, expiring.id], 'created strictly after');
        assert.deepEqual(await list(0, T + 99), [early.id, late.id, expiring.id]);
        assert.deepEqual(await list(0, T + 100), [early.id, late.id], 'expired when expires <= now');
        // with a cursor too, the later of the two bounds applies
        const page = (createdAfter: number, after: ShopKeyset) =>
          shop.listAbandoned({ partnerId: p, createdAfter, after, now: T, limit: 10 }).then((l) => l.map((x) => x.id));
        assert.deepEqual(await page(T + 10, { created: T, id: early.id }), [expiring.id]);
        assert.deepEqual(await page(T - 1, { created: T, id: early.id }), [late.id, expiring.id]);
        assert.deepEqual(await page(T + 10, { created: T + 10, id: '' }), [expiring.id]);
      });

      it('keeps partners apart', async () => {
        const p = newPartner();
        await put(shop, shopBasket(p, newBasketId(), T));
        assert.deepEqual(await shop.listAbandoned({ partnerId: newPartner(), createdAfter: 0, after: null, now: T, limit: 10 }), []);
      });

      it('rejects a limit outside 1..1000', async () => {
        const q = { partnerId: newPartner(), createdAfter: 0, after: null, now: T };
        await assert.rejects(shop.listAbandoned({ ...q, limit: 0 }), RangeError);
        await assert.rejects(shop.listAbandoned({ ...q, limit: 1001 }), RangeError);
        await assert.rejects(shop.listAbandoned({ ...q, limit: 1.5 }), RangeError);
      });

      it('lists no basket twice and skips none while baskets are inserted during paging', async () => {
        const p = newPartner();
        const initial = range(40).map((i) => shopBasket(p, newBasketId(), T + Math.floor(i / 4)));
        await Promise.all(initial.map((b) => put(shop, b)));
        const seen: ShopBasket[] = [];
        let after: ShopKeyset | null = null;
        let round = 0;
        for (;;) {
          // inserts before, at and after the position, racing the page read
          const inserts = range(3).map((i) => shopBasket(p, newBasketId(), T + ((round + i * 4) % 12)));
          const query: AbandonedQuery = { partnerId: p, createdAfter: 0, after, now: T, limit: 5 };
          const [page]: [ShopBasket[], unknown] = await Promise.all([shop.listAbandoned(query), Promise.all(inserts.map((b) => put(shop, b)))]);
          seen.push(...page);
          round++;
          const last: ShopBasket | undefined = page[page.length - 1];
          if (page.length < 5 || last === undefined) break;
          after = { created: last.created, id: last.id };
        }
        const ids = seen.map((b) => b.id);
        assert.equal(new Set(ids).size, ids.length, 'no basket twice');
        for (const b of initial) assert.ok(ids.includes(b.id), `basket ${b.id} (created ${b.created}) not skipped`);
        for (let i = 1; i < seen.length; i++) assert.ok(byKeyset(seen[i - 1]!, seen[i]!) < 0, 'in (created, id) order');
      });
    });

    describe('purgeExpiredShopBaskets', () => {
      it('removes expired baskets with their index entries and the external ids still pointing to them', async () => {
        const p = newPartner();
        // 1970 times: no other test writes them, so a shared store holds no other basket this old
        const old = 1_000 + Math.floor(Math.random() * 1_000_000);
        const gone = shopBasket(p, newBasketId(), old, { expires: old + 10, externalId: 'ext-gone' });
        const moved = shopBasket(p, newBasketId(), old + 1, { expires: old + 10, externalId: 'ext-moved' });
        const kept = shopBasket(p, newBasketId(), old + 2, { expires: old + 1000, externalId: 'ext-kept' });
        const replacement = newBasketId();
        for (const b of [gone, moved, kept]) {
          await put(shop, b);
          await shop.claimExternalId(p, b.externalId!, b.id, null);
        }
        await shop.claimExternalId(p, 'ext-moved', replacement, moved.id);
        assert.equal((await shop.listAbandoned({ partnerId: p, createdAfter: 0, after: null, now: old, limit: 10 })).length, 3);

        assert.equal(await shop.purgeExpiredShopBaskets(old + 9, 100), 0, 'nothing expired yet');
        assert.equal(await shop.purgeExpiredShopBaskets(old + 10, 1), 1, 'at most limit');
        assert.equal(await shop.purgeExpiredShopBaskets(old + 10, 100), 1);
        assert.equal(await shop.purgeExpiredShopBaskets(old + 10, 100), 0);

        assert.equal(await shop.getShopBasket(p, gone.id), null);
        assert.equal(await shop.getShopBasket(p, moved.id), null);
        assert.deepEqual((await shop.getShopBasket(p, kept.id))?.basket, kept);
        assert.equal(await shop.getExternalId(p, 'ext-gone'), null);
        assert.equal(await shop.getExternalId(p, 'ext-moved'), replacement, 'an external id pointing elsewhere stays');
        assert.equal(await shop.getExternalId(p, 'ext-kept'), kept.id);
        // the index lists what is left (at a `now` before every expiry)
        assert.deepEqual((await shop.listAbandoned({ partnerId: p, createdAfter: 0, after: null, now: old, limit: 10 })).map((b) => b.id), [kept.id]);
        // a purged external id is free again
        const next = newBasketId();
        assert.equal(await shop.claimExternalId(p, 'ext-gone', next, gone.id), next);
      });
    });

    describe('orders', () => {
      it('creates once per (partner, id) and reads by id and by payment reference', async () => {
        const p = newPartner();
        const o = shopOrder(p, uid('order'), T);
        await shop.createShopOrder(o);
        assert.deepEqual(await shop.getShopOrder(p, o.id), o);
        await assert.rejects(shop.createShopOrder({ ...o, total: 1 }), DuplicateOrderError);
        assert.deepEqual(await shop.getShopOrder(p, o.id), o);
        assert.deepEqual(await shop.getShopOrderByPaymentRef('sandbox', o.paymentRef!), o);
        assert.equal(await shop.getShopOrderByPaymentRef('stripe', o.paymentRef!), null);
        assert.equal(await shop.getShopOrder(newPartner(), o.id), null);
        // another partner may use the same order id
        const q = newPartner();
        await shop.createShopOrder({ ...o, partnerId: q, paymentRef: uid('pay') });
        assert.equal((await shop.getShopOrder(q, o.id))?.partnerId, q);
      });

      it('concurrent creates of one order make one', async () => {
        const p = newPartner();
        const o = shopOrder(p, uid('order'), T, { paymentRef: null, paymentProvider: null });
        const outcomes = await Promise.allSettled(range(6).map(() => shop.createShopOrder(o)));
        assert.equal(outcomes.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of outcomes) if (r.status === 'rejected') assert.ok(r.reason instanceof DuplicateOrderError);
      });

      it('updates atomically and follows a new payment reference', async () => {
        const p = newPartner();
        const o = shopOrder(p, uid('order'), T, { paymentRef: null });
        await shop.createShopOrder(o);
        const ref = uid('pay');
        const updated = await shop.updateShopOrder(p, o.id, (cur) => ({ ...cur, status: 'completed', paymentRef: ref, updated: T + 1 }));
        assert.deepEqual(updated, { ...o, status: 'completed', paymentRef: ref, updated: T + 1 });
        assert.deepEqual(await shop.getShopOrderByPaymentRef('sandbox', ref), updated);
        const ref2 = uid('pay');
        await shop.updateShopOrder(p, o.id, (cur) => ({ ...cur, paymentRef: ref2 }));
        assert.equal(await shop.getShopOrderByPaymentRef('sandbox', ref), null, 'the old reference no longer finds it');
        assert.equal((await shop.getShopOrderByPaymentRef('sandbox', ref2))?.id, o.id);
        // null keeps; an unknown order is null; a throwing fn passes its error through
        assert.equal((await shop.updateShopOrder(p, o.id, () => null))?.paymentRef, ref2);
        assert.equal(await shop.updateShopOrder(p, uid('order'), (cur) => cur), null);
        const refusal = new Error('no');
        await assert.rejects(
          shop.updateShopOrder(p, o.id, () => {
            throw refusal;
          }),
          (err) => err === refusal,
        );
        await assert.rejects(shop.updateShopOrder(p, o.id, (cur) => ({ ...cur, id: uid('order') })));
        const n = 12;
        await Promise.all(range(n).map(() => shop.updateShopOrder(p, o.id, (cur) => ({ ...cur, total: cur.total + 1 }))));
        assert.equal((await shop.getShopOrder(p, o.id))?.total, o.total + n);
      });
    });

    describe('subscriptions', () => {
      it('creates, replaces and reads by id and by name', async () => {
        const p = newPartner();
        const s = subscription(p, uid('sub'), 'Home');
        await shop.putSubscriptions(p, [s]);
        assert.deepEqual(await shop.getSubscription(p, s.id), s);
        assert.deepEqual(await shop.getSubscriptionByName(p, 'Home'), s);
        const renamed = { ...s, name: 'Office', termEnd: 3_000 };
        await shop.putSubscriptions(p, [renamed]);
        assert.deepEqual(await shop.getSubscription(p, s.id), renamed);
        assert.equal(await shop.getSubscriptionByName(p, 'Home'), null, 'the old name is free');
        assert.deepEqual(await shop.getSubscriptionByName(p, 'Office'), renamed);
        assert.equal(await shop.getSubscription(newPartner(), s.id), null);
        assert.equal(await shop.getSubscriptionByName(newPartner(), 'Office'), null);
      });

      it('rejects a name another subscription has, writing nothing of the call', async () => {
        const p = newPartner();
        const a = subscription(p, uid('sub'), 'Home');
        await shop.putSubscriptions(p, [a]);
        const fresh = subscription(p, uid('sub'), 'Fresh');
        await assert.rejects(
          shop.putSubscriptions(p, [fresh, subscription(p, uid('sub'), 'Home')]),
          (err) => err instanceof SubscriptionNameConflictError && err.subscriptionName === 'Home',
        );
        assert.equal(await shop.getSubscription(p, fresh.id), null);
        assert.equal(await shop.getSubscriptionByName(p, 'Fresh'), null);
        // two ids of one call with one name
        await assert.rejects(shop.putSubscriptions(p, [subscription(p, uid('sub'), 'Twin'), subscription(p, uid('sub'), 'Twin')]), SubscriptionNameConflictError);
        assert.equal(await shop.getSubscriptionByName(p, 'Twin'), null);
        // names may swap within one call; another partner may use the name
        const b = subscription(p, uid('sub'), 'Office');
        await shop.putSubscriptions(p, [b]);
        await shop.putSubscriptions(p, [{ ...a, name: 'Office' }, { ...b, name: 'Home' }]);
        assert.equal((await shop.getSubscriptionByName(p, 'Office'))?.id, a.id);
        assert.equal((await shop.getSubscriptionByName(p, 'Home'))?.id, b.id);
        const q = newPartner();
        await shop.putSubscriptions(q, [subscription(q, uid('sub'), 'Home')]);
      });

      it('updates atomically; null keeps; id and name cannot change', async () => {
        const p = newPartner();
        const s = subscription(p, uid('sub'), 'Home');
        await shop.putSubscriptions(p, [s]);
        const n = 15;
        await Promise.all(range(n).map(() => shop.updateSubscription(p, s.id, (cur) => ({ ...cur, termEnd: cur.termEnd + 1 }))));
        assert.equal((await shop.getSubscription(p, s.id))?.termEnd, s.termEnd + n);
        const pending = { offer: { id: 'o2', version: 'v1' }, effective: 5_000 };
        const updated = await shop.updateSubscription(p, s.id, (cur) => ({ ...cur, pendingChange: pending }));
        assert.deepEqual(updated?.pendingChange, pending);
        assert.deepEqual(await shop.getSubscriptionByName(p, 'Home'), updated);
        assert.deepEqual(await shop.updateSubscription(p, s.id, () => null), updated);
        assert.equal(await shop.updateSubscription(p, uid('sub'), (cur) => cur), null);
        await assert.rejects(shop.updateSubscription(p, s.id, (cur) => ({ ...cur, name: 'Other' })));
        const refusal = new Error('no');
        await assert.rejects(
          shop.updateSubscription(p, s.id, () => {
            throw refusal;
          }),
          (err) => err === refusal,
        );
        assert.deepEqual(await shop.getSubscription(p, s.id), updated);
      });
    });
  });
}
