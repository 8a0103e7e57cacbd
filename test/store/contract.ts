/**
 * The Store contract: every adapter runs this suite unchanged. It uses only the Store interface and isolates its
 * data with random partner ids, user ids, topics, scopes and token hashes, so the store under test may be shared
 * and persistent. Time is always passed in (`now` arguments): nothing sleeps for expiry.
 *
 * Time conventions pinned here (all adapters must agree):
 * - a basket, transfer token or idempotency record is expired when `expires <= now`;
 * - an outbox message is available when `availableAt <= now`, and a claim lapses when `now >= claimedAt + leaseMs`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { BasketState, Line } from '../../src/domain/basket.js';
import type { ProductInput } from '../../src/domain/catalogue.js';
import { RESERVATION_RETENTION_MS } from '../../src/store/store.js';
import { CursorError } from '../../src/store/store.js';
import type { BasketKey, EventInput, IdempotencyBegin, Order, OrderPage, OutboxInput, StoredEvent, Store, StoredBasket } from '../../src/store/store.js';

const uid = (prefix: string): string => `${prefix}-${randomUUID()}`;
const newKey = (): BasketKey => ({ partnerId: uid('partner'), userId: uid('user') });
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

const HOUR = 3_600_000;

function basket(now: number, cart: Line[] = [], extra: Partial<BasketState> = {}): BasketState {
  return { cart, saved: [], checkout: [], lastChanged: now, expires: now + HOUR, session: null, ...extra };
}

function product(productId: string, stock: number | null, extra: Partial<ProductInput> = {}): ProductInput {
  return {
    productId,
    variant: null,
    mainProductIdentifier: null,
    name: `Product ${productId}`,
    brand: 'Brand',
    price: 1299,
    currency: 'EUR',
    taxRateBp: 1900,
    stock,
    shopSource: null,
    slug: productId.toLowerCase(),
    images: [`https://img.example/${productId}.png`],
    ...extra,
  };
}

function order(partnerId: string, userId: string, orderNo: string, created: number, extra: Partial<Order> = {}): Order {
  return {
    orderNo,
    partnerId,
    userId,
    sessionId: uid('session'),
    status: 'pending_payment',
    currency: 'EUR',
    fullPrice: 2598,
    fullTax: 415,
    shippingCost: 0,
    lines: [
      {
        productId: 'P1',
        count: 2,
        stocked: 2,
        name: 'Product P1',
        unitPrice: 1299,
        taxRateBp: 1900,
        lineTotal: 2598,
        lineTax: 415,
      },
    ],
    testMode: true,
    paymentProvider: 'stripe',
    paymentRef: uid('pi'),
    payment: { clientSecret: 'secret', nested: { a: [1, 2, 3] } },
    created,
    updated: created,
    ...extra,
  };
}

/** Waits for a condition that an adapter may satisfy asynchronously (e.g. change notifications). */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function event(partnerId: string, time: number, extra: Partial<EventInput> = {}): EventInput {
  return {
    partnerId,
    time,
    action: 'assign',
    user: 'u0',
    productId: 'P1',
    count: 1,
    orderNo: null,
    amount: null,
    currency: null,
    outcome: null,
    sessionId: null,
    startTime: null,
    source: null,
    provider: null,
    tracking: 'absent',
    apiVersion: '2025-09-15',
    ...extra,
  };
}

/** Every event of a partner, page by page (pages of `pageSize`). */
async function allEvents(store: Store, partnerId: string, pageSize: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await store.listEvents(partnerId, after, pageSize);
    out.push(...page.events);
    if (page.events.length < pageSize) return out;
    after = page.next;
  }
}

const withoutId = ({ id: _id, ...e }: StoredEvent): EventInput => e;

function cartCount(stored: StoredBasket | null, productId: string): number {
  return stored?.state.cart.find((l) => l.productId === productId)?.count ?? 0;
}

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, { timeout: 120_000 }, () => {
    let store: Store;
    const T = Date.now();

    before(async () => {
      store = await open();
    });
    after(async () => {
      await store.close();
    });

    describe('lifecycle', () => {
      it('pings and reports its kind', async () => {
        await store.ping();
        assert.ok(['sqlite', 'postgres', 'redis'].includes(store.kind));
      });

      it('init is safe to call again and keeps the data', async () => {
        const key = newKey();
        await store.updateBasket(key, () => ({ state: basket(T), result: null }));
        await store.init();
        await Promise.all([store.init(), store.init()]);
        assert.deepEqual((await store.getBasket(key))?.state, basket(T));
      });

      it('close is idempotent and a closed store no longer answers ping', async () => {
        const other = await open();
        await other.ping();
        await other.close();
        await other.close();
        await assert.rejects(other.ping());
      });
    });

    describe('baskets', () => {
      it('reads an unknown basket as null', async () => {
        assert.equal(await store.getBasket(newKey()), null);
      });

      it('creates a basket from null and returns the result of fn', async () => {
        const key = newKey();
        const seen: (StoredBasket | null)[] = [];
        const result = await store.updateBasket(key, (current) => {
          seen.push(current);
          return { state: basket(T, [{ productId: 'A', count: 1 }]), result: 'created' };
        });
        assert.equal(result, 'created');
        assert.ok(seen.length >= 1 && seen.every((s) => s === null));
        const stored = await store.getBasket(key);
        assert.ok(stored);
        assert.deepEqual(stored.state, basket(T, [{ productId: 'A', count: 1 }]));
        // the first write is version 1: the ETag of a basket's answer counts on it (BasketService.change)
        assert.equal(stored.version, 1);
      });

      it('round-trips every field of the state, including a checkout session', async () => {
        const key = newKey();
        const state = basket(T, [{ productId: 'A', count: 2, variant: 'red', mainProductIdentifier: 'M1' }], {
          saved: [{ productId: 'B', count: 1 }],
          checkout: [{ productId: 'C', count: 3, stocked: null }, { productId: 'D', count: 1, stocked: -1 }],
          session: { id: 'cs_1', orderNo: 'O-1', startedAt: T, expires: T + 900_000 },
        });
        await store.updateBasket(key, () => ({ state, result: null }));
        assert.deepEqual((await store.getBasket(key))?.state, state);
      });

      it('increments the version by one per write and passes the current basket to fn', async () => {
        const key = newKey();
        await store.updateBasket(key, () => ({ state: basket(T), result: null }));
        const first = await store.getBasket(key);
        assert.ok(first);
        const seen = await store.updateBasket(key, (current) => ({
          state: basket(T + 1, [{ productId: 'A', count: 1 }]),
          result: current,
        }));
        assert.deepEqual(seen, first);
        const second = await store.getBasket(key);
        assert.equal(second?.version, first.version + 1);
        await store.updateBasket(key, (current) => ({ state: current?.state ?? basket(T), result: null }));
        assert.equal((await store.getBasket(key))?.version, first.version + 2);
      });

      it('keep writes nothing: version and state unchanged, no change event', async () => {
        const key = newKey();
        await store.updateBasket(key, () => ({ state: basket(T), result: null }));
        const before = await store.getBasket(key);
        const events: BasketKey[] = [];
        const off = store.onBasketChange((k) => {
          if (k.userId === key.userId && k.partnerId === key.partnerId) events.push(k);
        });
        try {
          assert.equal(await store.updateBasket(key, () => ({ keep: true, result: 42 })), 42);
          assert.deepEqual(await store.getBasket(key), before);
          // keep on an absent basket creates nothing
          const absent = newKey();
          assert.equal(await store.updateBasket(absent, () => ({ keep: true, result: 'k' })), 'k');
          assert.equal(await store.getBasket(absent), null);
          // a later real write is the first event we see
          await store.updateBasket(key, (c) => ({ state: c?.state ?? basket(T), result: null }));
          await waitFor(() => events.length > 0, 'change event');
          assert.equal(events.length, 1);
        } finally {
          off();
        }
      });

      it('a throwing fn rethrows the same error object and leaves the basket untouched', async () => {
        const key = newKey();
        const boom = new RangeError('boom');
        await assert.rejects(
          store.updateBasket(key, () => {
            throw boom;
          }),
          (error: unknown) => error === boom,
        );
        assert.equal(await store.getBasket(key), null);

        await store.updateBasket(key, () => ({ state: basket(T, [{ productId: 'A', count: 1 }]), result: null }));
        const before = await store.getBasket(key);
        const notAnError = { reason: 'plain object' };
        await assert.rejects(
          store.updateBasket(key, () => {
            throw notAnError;
          }),
          (error: unknown) => error === notAnError,
        );
        assert.deepEqual(await store.getBasket(key), before);
      });

      // Stores may read and write the baskets of one turn together (SQLite's group commit, PostgreSQL's batches):
      // each caller must still get its own basket and its own outcome, more than one batch's worth included.
      it('300 baskets written and read together: each its own state and version, failures alone', async () => {
        const keys = range(300).map(newKey);
        await store.updateBasket(keys[7]!, () => ({ state: basket(T, [{ productId: 'OLD', count: 1 }]), result: null }));
        const boom = new RangeError('boom');
        const outcomes = await Promise.allSettled(
          keys.map((key, i) =>
            store.updateBasket<number | string>(key, (current) => {
              if (i === 3) throw boom;
              // a state that cannot be stored (BigInt does not serialize) fails its own update only
              if (i === 5) return { state: { ...basket(T), lastChanged: 10n as unknown as number }, result: i };
              if (i === 9) return { keep: true, result: 'kept' };
              return { state: basket(T, [...(current?.state.cart ?? []), { productId: `P${i}`, count: i + 1 }]), result: i };
            }),
          ),
        );
        outcomes.forEach((o, i) => {
          if (i === 3) assert.deepEqual(o, { status: 'rejected', reason: boom });
          else if (i === 5) assert.equal(o.status, 'rejected');
          else assert.deepEqual(o, { status: 'fulfilled', value: i === 9 ? 'kept' : i });
        });
        const read = await Promise.all([...keys, keys[7]!, newKey()].map((key) => store.getBasket(key)));
        read.slice(0, 300).forEach((stored, i) => {
          if (i === 3 || i === 5 || i === 9) return assert.equal(stored, null, `basket ${i}`);
          const cart = i === 7 ? [{ productId: 'OLD', count: 1 }, { productId: 'P7', count: 8 }] : [{ productId: `P${i}`, count: i + 1 }];
          assert.deepEqual(stored, { state: basket(T, cart), version: i === 7 ? 2 : 1 }, `basket ${i}`);
        });
        assert.deepEqual(read[300], read[7], 'a basket read twice together');
        assert.equal(read[301], null, 'an unknown basket among known ones');
      });

      it('keeps baskets of different users and partners apart', async () => {
        const a = newKey();
        const b: BasketKey = { partnerId: a.partnerId, userId: uid('user') };
        const c: BasketKey = { partnerId: uid('partner'), userId: a.userId };
        await store.updateBasket(a, () => ({ state: basket(T, [{ productId: 'A', count: 1 }]), result: null }));
        assert.equal(await store.getBasket(b), null);
        assert.equal(await store.getBasket(c), null);
      });

      it('200 concurrent appends under a 20-line limit: exactly 20 lines, every result consistent', async () => {
        const key = newKey();
        const limit = 20;
        const results = await Promise.all(
          range(200).map((i) =>
            store.updateBasket(key, (current) => {
              const cart = current?.state.cart ?? [];
              if (cart.length >= limit) return { keep: true, result: { added: false, length: cart.length } };
              const next = [...cart, { productId: `P${i}`, count: 1 }];
              return { state: basket(T, next), result: { added: true, length: next.length } };
            }),
          ),
        );
        const stored = await store.getBasket(key);
        assert.ok(stored);
        assert.equal(stored.state.cart.length, limit);
        assert.equal(new Set(stored.state.cart.map((l) => l.productId)).size, limit);
        const added = results.filter((r) => r.added);
        assert.equal(added.length, limit);
        // each committed append saw a distinct length: no two writers built on the same version
        assert.deepEqual(
          added.map((r) => r.length).sort((x, y) => x - y),
          range(limit).map((i) => i + 1),
        );
        assert.ok(results.filter((r) => !r.added).every((r) => r.length === limit));
        // the lines present are exactly the ones whose writers were told "added"
        const addedIds = new Set(results.flatMap((r, i) => (r.added ? [`P${i}`] : [])));
        assert.deepEqual(new Set(stored.state.cart.map((l) => l.productId)), addedIds);
      });

      it('100 concurrent increments lose no update', async () => {
        const key = newKey();
        await store.updateBasket(key, () => ({ state: basket(T, [{ productId: 'C', count: 0 }]), result: 0 }));
        const startVersion = (await store.getBasket(key))?.version ?? -1;
        const results = await Promise.all(
          range(100).map(() =>
            store.updateBasket(key, (current) => {
              const count = cartCount(current, 'C') + 1;
              return { state: basket(T, [{ productId: 'C', count }]), result: count };
            }),
          ),
        );
        const stored = await store.getBasket(key);
        assert.equal(cartCount(stored, 'C'), 100);
        assert.equal(stored?.version, startVersion + 100);
        assert.deepEqual(
          results.sort((x, y) => x - y),
          range(100).map((i) => i + 1),
        );
      });

      it('purgeExpiredBaskets deletes expired baskets without checkout, up to the limit', async () => {
        // Times far in the past so that other data in a shared store is never eligible.
        const E = 5_000_000 + Math.floor(Math.random() * 1_000_000);
        const expired = range(3).map(() => newKey());
        const fresh = newKey();
        const checkingOut = newKey();
        const checkoutLinesOnly = newKey();
        for (const key of expired) {
          await store.updateBasket(key, () => ({ state: basket(0, [], { expires: E }), result: null }));
        }
        await store.updateBasket(fresh, () => ({ state: basket(0, [], { expires: E + 1 }), result: null }));
        await store.updateBasket(checkingOut, () => ({
          state: basket(0, [], { expires: E, session: { id: 's', orderNo: 'o', startedAt: 0, expires: E } }),
          result: null,
        }));
        await store.updateBasket(checkoutLinesOnly, () => ({
          state: basket(0, [], { expires: E - 10, checkout: [{ productId: 'A', count: 1, stocked: 1 }] }),
          result: null,
        }));

        await store.purgeExpiredBaskets(E - 1, 1000);
        for (const key of expired) assert.notEqual(await store.getBasket(key), null, 'not yet expired');

        assert.equal(await store.purgeExpiredBaskets(E, 1), 1);
        const rest = await store.purgeExpiredBaskets(E, 1000);
        assert.ok(rest >= 2, `purged ${rest}`);
        for (const key of expired) assert.equal(await store.getBasket(key), null);
        assert.notEqual(await store.getBasket(fresh), null, 'expires after now');
        assert.notEqual(await store.getBasket(checkingOut), null, 'held by a checkout session');
        assert.notEqual(await store.getBasket(checkoutLinesOnly), null, 'holds checkout lines');
        assert.equal(await store.purgeExpiredBaskets(E, 0), 0);
      });

      it('purgeExpiredBaskets follows each basket’s latest expiry, within an hour and across hours', async () => {
        // SQLite indexes the hour of the expiry, and leaves the index alone when a write keeps the hour: every
        // move below (into another hour, within one, into or out of checkout) must still be purged by its latest
        // values. Mid-hour, far in the past, so that other data in a shared store is never eligible.
        const T = 10 * HOUR + HOUR / 2;
        const write = (key: BasketKey, extra: Partial<BasketState>) =>
          store.updateBasket(key, () => ({ state: basket(0, [], extra), result: null }));
        const movedEarlier = newKey(); // a later hour, then expired in an earlier one
        const movedLater = newKey(); // expired, then a later hour
        const sameHour = newKey(); // expired, then later within the same hour
        const checkoutEnded = newKey(); // held by checkout lines, then released, same expiry
        await write(movedEarlier, { expires: T + 5 * HOUR });
        await write(movedEarlier, { expires: T - HOUR });
        await write(movedLater, { expires: T - 1 });
        await write(movedLater, { expires: T + 5 * HOUR });
        await write(sameHour, { expires: T - 10 });
        await write(sameHour, { expires: T + 10 });
        await write(checkoutEnded, { expires: T - 10, checkout: [{ productId: 'A', count: 1, stocked: 1 }] });
        await write(checkoutEnded, { expires: T - 10 });

        await store.purgeExpiredBaskets(T, 1000);
        assert.equal(await store.getBasket(movedEarlier), null, 'expiry moved into an earlier hour');
        assert.equal(await store.getBasket(checkoutEnded), null, 'no longer held by checkout lines');
        assert.notEqual(await store.getBasket(movedLater), null, 'expiry moved into a later hour');
        assert.notEqual(await store.getBasket(sameHour), null, 'expiry moved later within its hour');

        await store.purgeExpiredBaskets(T + 10, 1000);
        assert.equal(await store.getBasket(sameHour), null, 'due now');
        assert.notEqual(await store.getBasket(movedLater), null);
      });

      it('onBasketChange fires after a committed write; unsubscribe stops it', async () => {
        const key = newKey();
        const isOurs = (k: BasketKey): boolean => k.partnerId === key.partnerId && k.userId === key.userId;
        const a: BasketKey[] = [];
        const b: BasketKey[] = [];
        const versionsSeen: Promise<number | undefined>[] = [];
        const offA = store.onBasketChange((k) => {
          if (!isOurs(k)) return;
          a.push(k);
          versionsSeen.push(store.getBasket(key).then((s) => s?.version));
        });
        const offB = store.onBasketChange((k) => {
          if (isOurs(k)) b.push(k);
        });
        try {
          await store.updateBasket(key, () => ({ state: basket(T), result: null }));
          await waitFor(() => a.length === 1 && b.length === 1, 'first change event');
          assert.deepEqual(a[0], key);
          const written = (await store.getBasket(key))?.version;
          // the listener ran after the commit: a read from inside it sees the new version
          assert.equal(await versionsSeen[0], written);

          // a throwing fn produces no event
          await assert.rejects(
            store.updateBasket(key, () => {
              throw new Error('no');
            }),
          );

          offA();
          offA();
          await store.updateBasket(key, (c) => ({ state: c?.state ?? basket(T), result: null }));
          await waitFor(() => b.length === 2, 'second change event');
          assert.equal(a.length, 1, 'unsubscribed listener was called');
        } finally {
          offA();
          offB();
        }
      });
    });

    describe('catalogue', () => {
      it('upserts and gets products; unknown ids are missing; other partners are invisible', async () => {
        const partner = uid('partner');
        const inputs = range(150).map((i) => product(`P${i}`, i % 3 === 0 ? null : i));
        assert.equal(await store.upsertProducts(partner, inputs), 150);
        const ids = [...inputs.map((p) => p.productId), 'UNKNOWN-1', 'UNKNOWN-2'];
        const found = await store.getProducts(partner, ids);
        assert.equal(found.size, 150);
        for (const input of inputs) assert.deepEqual(found.get(input.productId), { ...input, reserved: 0 });
        assert.equal(found.has('UNKNOWN-1'), false);
        assert.equal((await store.getProducts(partner, [])).size, 0);
        assert.equal((await store.getProducts(uid('partner'), ['P1'])).size, 0);
      });

      it('hasCatalogue is false before the first upsert and true after', async () => {
        const partner = uid('partner');
        assert.equal(await store.hasCatalogue(partner), false);
        await store.upsertProducts(partner, [product('A', 1)]);
        assert.equal(await store.hasCatalogue(partner), true);
      });

      it('upsert replaces the data and stock but keeps reservations held', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 5)]);
        const [line] = await store.reserveStock(partner, uid('res'), [{ productId: 'A', count: 3 }]);
        assert.equal(line?.stocked, 3);
        await store.upsertProducts(partner, [product('A', 10, { name: 'Renamed', price: 999, images: [] })]);
        const a = (await store.getProducts(partner, ['A'])).get('A');
        assert.deepEqual(a, { ...product('A', 10, { name: 'Renamed', price: 999, images: [] }), reserved: 3 });
      });
    });

    describe('stock reservations', () => {
      async function stockOf(partner: string, productId: string): Promise<{ stock: number | null; reserved: number }> {
        const p = (await store.getProducts(partner, [productId])).get(productId);
        assert.ok(p, `product ${productId} exists`);
        return { stock: p.stock, reserved: p.reserved };
      }

      it('reserves exactly the available units, and nothing beyond', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 5)]);
        assert.deepEqual(await store.reserveStock(partner, uid('res'), [{ productId: 'A', count: 5 }]), [
          { productId: 'A', stocked: 5 },
        ]);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 5, reserved: 5 });
        assert.deepEqual(await store.reserveStock(partner, uid('res'), [{ productId: 'A', count: 1 }]), [
          { productId: 'A', stocked: -1 },
        ]);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 5, reserved: 5 });
      });

      it('reserves each line on its own: insufficient, unlimited and unknown lines', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 4), product('B', 2), product('U', null)]);
        const id = uid('res');
        const outcome = await store.reserveStock(partner, id, [
          { productId: 'A', count: 3 },
          { productId: 'B', count: 3 },
          { productId: 'U', count: 7 },
          { productId: 'X', count: 2 },
        ]);
        assert.deepEqual(outcome, [
          { productId: 'A', stocked: 3 },
          { productId: 'B', stocked: -3 },
          { productId: 'U', stocked: null },
          { productId: 'X', stocked: -2 },
        ]);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 4, reserved: 3 });
        assert.deepEqual(await stockOf(partner, 'B'), { stock: 2, reserved: 0 });
        assert.deepEqual(await stockOf(partner, 'U'), { stock: null, reserved: 0 });
        assert.equal(await store.getReservationState(partner, id), 'reserved');
      });

      it('is idempotent per reservation id: a repeat returns the first outcome and reserves nothing', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 10)]);
        const id = uid('res');
        const first = await store.reserveStock(partner, id, [{ productId: 'A', count: 4 }]);
        const again = await store.reserveStock(partner, id, [{ productId: 'A', count: 4 }]);
        const different = await store.reserveStock(partner, id, [{ productId: 'A', count: 1 }]);
        assert.deepEqual(again, first);
        assert.deepEqual(different, first);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 10, reserved: 4 });
      });

      it('300 concurrent one-unit reservations against stock 10: exactly 10 succeed', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 10)]);
        const outcomes = await Promise.all(
          range(300).map(() => store.reserveStock(partner, uid('res'), [{ productId: 'A', count: 1 }])),
        );
        const stocked = outcomes.map((o) => o[0]?.stocked);
        assert.equal(stocked.filter((s) => s === 1).length, 10);
        assert.equal(stocked.filter((s) => s === -1).length, 290);
        const after = await stockOf(partner, 'A');
        assert.deepEqual(after, { stock: 10, reserved: 10 });
        assert.ok((after.stock ?? 0) - after.reserved >= 0);
      });

      it('concurrent repeats of one reservation id reserve once', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 10)]);
        const id = uid('res');
        const outcomes = await Promise.all(
          range(30).map(() => store.reserveStock(partner, id, [{ productId: 'A', count: 2 }])),
        );
        for (const o of outcomes) assert.deepEqual(o, [{ productId: 'A', stocked: 2 }]);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 10, reserved: 2 });
      });

      it('release returns the units, once; commit after release does nothing', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 5), product('U', null)]);
        const id = uid('res');
        await store.reserveStock(partner, id, [
          { productId: 'A', count: 2 },
          { productId: 'U', count: 3 },
        ]);
        assert.equal(await store.releaseReservation(partner, id), true);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 5, reserved: 0 });
        assert.deepEqual(await stockOf(partner, 'U'), { stock: null, reserved: 0 });
        assert.equal(await store.getReservationState(partner, id), 'released');
        assert.equal(await store.releaseReservation(partner, id), false);
        assert.equal(await store.commitReservation(partner, id), false);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 5, reserved: 0 });
        assert.equal(await store.getReservationState(partner, id), 'released');
      });

      it('commit turns reserved units into stock decrements, once; release after commit does nothing', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 5), product('B', 1)]);
        const id = uid('res');
        const other = uid('res');
        await store.reserveStock(partner, id, [
          { productId: 'A', count: 2 },
          { productId: 'B', count: 2 },
        ]);
        await store.reserveStock(partner, other, [{ productId: 'A', count: 1 }]);
        assert.equal(await store.commitReservation(partner, id), true);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 3, reserved: 1 });
        assert.deepEqual(await stockOf(partner, 'B'), { stock: 1, reserved: 0 }, 'the failed line took nothing');
        assert.equal(await store.getReservationState(partner, id), 'committed');
        assert.equal(await store.commitReservation(partner, id), false);
        assert.equal(await store.releaseReservation(partner, id), false);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 3, reserved: 1 });
        assert.equal(await store.getReservationState(partner, id), 'committed');
        assert.equal(await store.getReservationState(partner, other), 'reserved');
      });

      it('concurrent release and commit of one reservation: exactly one acts', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 5)]);
        const id = uid('res');
        await store.reserveStock(partner, id, [{ productId: 'A', count: 2 }]);
        const results = await Promise.all([
          ...range(10).map(() => store.releaseReservation(partner, id)),
          ...range(10).map(() => store.commitReservation(partner, id)),
        ]);
        assert.equal(results.filter(Boolean).length, 1);
        const state = await store.getReservationState(partner, id);
        const expected = state === 'committed' ? { stock: 3, reserved: 0 } : { stock: 5, reserved: 0 };
        assert.deepEqual(await stockOf(partner, 'A'), expected);
      });

      it('unknown reservations: state null, release, commit and return false', async () => {
        const partner = uid('partner');
        assert.equal(await store.getReservationState(partner, 'nope'), null);
        assert.equal(await store.releaseReservation(partner, 'nope'), false);
        assert.equal(await store.commitReservation(partner, 'nope'), false);
        assert.equal(await store.returnReservation(partner, 'nope'), false);
      });

      it('return puts committed units back on stock, once; only a committed reservation can be returned', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 5), product('B', 1), product('U', null), product('G', 4)]);
        const id = uid('res');
        await store.reserveStock(partner, id, [
          { productId: 'A', count: 2 },
          { productId: 'B', count: 2 },
          { productId: 'U', count: 3 },
          { productId: 'G', count: 1 },
        ]);
        const held = uid('res');
        await store.reserveStock(partner, held, [{ productId: 'A', count: 1 }]);
        assert.equal(await store.returnReservation(partner, id), false, 'still reserved: nothing to return');
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 5, reserved: 3 });
        assert.equal(await store.commitReservation(partner, id), true);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 3, reserved: 1 });
        // an admin's stock count in between is kept: the returned units are added to it
        await store.upsertProducts(partner, [product('G', 10)]);
        assert.equal(await store.returnReservation(partner, id), true);
        assert.equal(await store.getReservationState(partner, id), 'returned');
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 5, reserved: 1 }, 'the other reservation still holds its unit');
        assert.deepEqual(await stockOf(partner, 'B'), { stock: 1, reserved: 0 }, 'the failed line took nothing and gets nothing');
        assert.deepEqual(await stockOf(partner, 'U'), { stock: null, reserved: 0 }, 'unlimited stays unlimited');
        assert.deepEqual(await stockOf(partner, 'G'), { stock: 11, reserved: 0 });
        assert.equal(await store.returnReservation(partner, id), false);
        assert.equal(await store.commitReservation(partner, id), false);
        assert.equal(await store.releaseReservation(partner, id), false);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 5, reserved: 1 });
        assert.equal(await store.getReservationState(partner, id), 'returned');

        const released = uid('res');
        await store.reserveStock(partner, released, [{ productId: 'A', count: 1 }]);
        await store.releaseReservation(partner, released);
        assert.equal(await store.returnReservation(partner, released), false);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 5, reserved: 1 });
      });

      it('concurrent returns of one committed reservation: exactly one acts', async () => {
        const partner = uid('partner');
        await store.upsertProducts(partner, [product('A', 5)]);
        const id = uid('res');
        await store.reserveStock(partner, id, [{ productId: 'A', count: 2 }]);
        await store.commitReservation(partner, id);
        const results = await Promise.all(range(20).map(() => store.returnReservation(partner, id)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.deepEqual(await stockOf(partner, 'A'), { stock: 5, reserved: 0 });
      });

      it(
        'purgeExpired deletes reservations settled RESERVATION_RETENTION_MS ago, never one still reserved',
        // Redis expires a reservation's keys by TTL, RESERVATION_RETENTION_MS after it was made, not in a purge
        { skip: name.startsWith('redis') ? 'Redis reservations expire by key TTL' : false },
        async () => {
          const partner = uid('partner');
          await store.upsertProducts(partner, [product('A', 10)]);
          const [released, committed, held] = [uid('res'), uid('res'), uid('res')];
          for (const id of [released, committed, held]) await store.reserveStock(partner, id, [{ productId: 'A', count: 1 }]);
          const before = Date.now();
          await store.releaseReservation(partner, released);
          await store.commitReservation(partner, committed);
          const after = Date.now();
          const states = async () =>
            Promise.all([released, committed, held].map((id) => store.getReservationState(partner, id)));

          // Other data of a shared store may go too (transfers, idempotency records long expired by then).
          await store.purgeExpired(before + RESERVATION_RETENTION_MS - 1, 1_000_000);
          assert.deepEqual(await states(), ['released', 'committed', 'reserved'], 'kept for the retention');
          await store.purgeExpired(after + RESERVATION_RETENTION_MS, 1_000_000);
          assert.deepEqual(await states(), [null, null, 'reserved']);
          // the units of the reservation still held stay reserved; the committed one left the stock
          assert.deepEqual(await stockOf(partner, 'A'), { stock: 9, reserved: 1 });
        },
      );

      it('reservation ids are per partner', async () => {
        const p1 = uid('partner');
        const p2 = uid('partner');
        await store.upsertProducts(p1, [product('A', 5)]);
        await store.upsertProducts(p2, [product('A', 5)]);
        const id = uid('res');
        await store.reserveStock(p1, id, [{ productId: 'A', count: 1 }]);
        assert.equal(await store.getReservationState(p2, id), null);
        assert.deepEqual(await store.reserveStock(p2, id, [{ productId: 'A', count: 2 }]), [
          { productId: 'A', stocked: 2 },
        ]);
      });
    });

    describe('transfer tokens', () => {
      const record = (expires: number) => ({ partnerId: uid('partner'), userId: uid('user'), expires, url: 'https://shop.example/x?y=1' });

      it('put, get and take; a taken token is gone', async () => {
        const hash = uid('hash');
        const rec = record(T + 60_000);
        await store.putTransfer(hash, rec);
        assert.deepEqual(await store.getTransfer(hash, T), rec);
        assert.deepEqual(await store.getTransfer(hash, T), rec, 'get does not consume');
        assert.deepEqual(await store.takeTransfer(hash, T), rec);
        assert.equal(await store.takeTransfer(hash, T), null);
        assert.equal(await store.getTransfer(hash, T), null);
        assert.equal(await store.getTransfer(uid('hash'), T), null);
      });

      it('an expired token can be neither read nor taken', async () => {
        const hash = uid('hash');
        const rec = record(T + 1000);
        await store.putTransfer(hash, rec);
        assert.deepEqual(await store.getTransfer(hash, T + 999), rec);
        assert.equal(await store.getTransfer(hash, T + 1000), null);
        assert.equal(await store.takeTransfer(hash, T + 1000), null);
        assert.deepEqual(await store.takeTransfer(hash, T + 999), rec, 'a late take did not consume it');
      });

      it('50 concurrent takes: exactly one wins', async () => {
        const hash = uid('hash');
        const rec = record(T + 60_000);
        await store.putTransfer(hash, rec);
        const taken = await Promise.all(range(50).map(() => store.takeTransfer(hash, T)));
        const winners = taken.filter((t) => t !== null);
        assert.equal(winners.length, 1);
        assert.deepEqual(winners[0], rec);
      });
    });

    describe('orders', () => {
      it('creates and reads an order; a duplicate order number rejects and changes nothing', async () => {
        const partner = uid('partner');
        const o = order(partner, uid('user'), uid('O'), T);
        await store.createOrder(o);
        assert.deepEqual(await store.getOrder(partner, o.orderNo), o);
        await assert.rejects(store.createOrder({ ...o, fullPrice: 1 }));
        assert.deepEqual(await store.getOrder(partner, o.orderNo), o);
        assert.equal(await store.getOrder(partner, uid('O')), null);
        assert.equal(await store.getOrder(uid('partner'), o.orderNo), null);
      });

      it('finds an order by payment reference', async () => {
        const partner = uid('partner');
        const o = order(partner, uid('user'), uid('O'), T);
        await store.createOrder(o);
        assert.ok(o.paymentRef);
        assert.deepEqual(await store.getOrderByPaymentRef('stripe', o.paymentRef), o);
        assert.equal(await store.getOrderByPaymentRef('other-provider', o.paymentRef), null);
        assert.equal(await store.getOrderByPaymentRef('stripe', uid('pi')), null);
        await store.createOrder(order(partner, uid('user'), uid('O'), T, { paymentRef: null }));
      });

      it('updateOrder writes what fn returns, keeps on null, and is null for unknown orders', async () => {
        const partner = uid('partner');
        const o = order(partner, uid('user'), uid('O'), T);
        await store.createOrder(o);
        const newRef = uid('pi');
        const paid: Order = { ...o, status: 'paid', paymentRef: newRef, updated: T + 5 };
        const updated = await store.updateOrder(partner, o.orderNo, (current) => {
          assert.deepEqual(current, o);
          return paid;
        });
        assert.deepEqual(updated, paid);
        assert.deepEqual(await store.getOrder(partner, o.orderNo), paid);
        assert.deepEqual(await store.getOrderByPaymentRef('stripe', newRef), paid);
        assert.equal(await store.getOrderByPaymentRef('stripe', o.paymentRef ?? ''), null, 'old reference dropped');

        const kept = await store.updateOrder(partner, o.orderNo, () => null);
        assert.deepEqual(kept, paid);
        assert.deepEqual(await store.getOrder(partner, o.orderNo), paid);

        let called = false;
        const missing = await store.updateOrder(partner, uid('O'), (x) => {
          called = true;
          return x;
        });
        assert.equal(missing, null);
        assert.equal(called, false);
      });

      it('updateOrder: a throwing fn rethrows the same error and changes nothing', async () => {
        const partner = uid('partner');
        const o = order(partner, uid('user'), uid('O'), T);
        await store.createOrder(o);
        const boom = new Error('boom');
        await assert.rejects(
          store.updateOrder(partner, o.orderNo, () => {
            throw boom;
          }),
          (error: unknown) => error === boom,
        );
        assert.deepEqual(await store.getOrder(partner, o.orderNo), o);
      });

      it('concurrent updateOrder calls lose no update', async () => {
        const partner = uid('partner');
        const o = order(partner, uid('user'), uid('O'), T, { fullPrice: 0 });
        await store.createOrder(o);
        await Promise.all(
          range(50).map(() => store.updateOrder(partner, o.orderNo, (cur) => ({ ...cur, fullPrice: cur.fullPrice + 1 }))),
        );
        assert.equal((await store.getOrder(partner, o.orderNo))?.fullPrice, 50);
      });

      it('lists orders newest first, paging with a cursor: no duplicates, none skipped', async () => {
        const partner = uid('partner');
        const user = uid('user');
        // Several orders share a timestamp, so the cursor must break ties.
        const orders = range(25).map((i) => order(partner, user, `O-${String(i).padStart(3, '0')}`, T + Math.floor(i / 3)));
        for (const o of [...orders].reverse()) await store.createOrder(o);
        await store.createOrder(order(partner, uid('user'), uid('O'), T + 100));
        await store.createOrder(order(uid('partner'), user, uid('O'), T + 100));

        const seen: Order[] = [];
        const sizes: number[] = [];
        let cursor: string | null = null;
        for (let page = 0; page < 10; page++) {
          const result: OrderPage = await store.listOrders(partner, user, 10, cursor);
          sizes.push(result.orders.length);
          seen.push(...result.orders);
          cursor = result.next;
          if (cursor === null) break;
        }
        assert.equal(cursor, null, 'paging terminates');
        assert.deepEqual(sizes.slice(0, 3), [10, 10, 5]);
        const expected = [...orders].sort((a, b) => b.created - a.created || (a.orderNo < b.orderNo ? 1 : -1));
        assert.deepEqual(
          seen.map((o) => o.orderNo),
          expected.map((o) => o.orderNo),
        );
        assert.deepEqual(seen[0], expected[0]);
        for (let i = 1; i < seen.length; i++) {
          assert.ok((seen[i - 1]?.created ?? 0) >= (seen[i]?.created ?? 0), 'newest first');
        }
      });

      it('lists nothing for a user without orders', async () => {
        assert.deepEqual(await store.listOrders(uid('partner'), uid('user'), 10, null), { orders: [], next: null });
      });

      it('a bad cursor rejects with a CursorError', async () => {
        const partner = uid('partner');
        const user = uid('user');
        const isCursorError = (error: unknown): boolean => error instanceof Error && error.name === 'CursorError';
        const bad = [
          'not a cursor!',
          'bm90IGpzb24',
          Buffer.from('{"x":1}').toString('base64url'),
          Buffer.from('[1,2]').toString('base64url'),
          Buffer.from('null').toString('base64url'),
        ];
        for (const cursor of bad) await assert.rejects(store.listOrders(partner, user, 10, cursor), isCursorError, cursor);
      });
    });

    describe('outbox', () => {
      const message = (topic: string, key: string, availableAt: number, payload: unknown = { key }): OutboxInput => ({
        topic,
        key,
        payload,
        availableAt,
      });
      const claimOpts = (owner: string, topic: string, now: number, limit = 10, leaseMs = 30_000) => ({
        owner,
        now,
        limit,
        leaseMs,
        topics: [topic],
      });

      it('hands out an available message once, with its payload and attempt count', async () => {
        const topic = uid('topic');
        const payload = { orderNo: 'O-1', nested: { list: [1, 'two', null] }, n: 3.5 };
        await store.enqueue([message(topic, 'k1', T, payload)]);
        const [got, ...rest] = await store.claim(claimOpts('A', topic, T));
        assert.equal(rest.length, 0);
        assert.ok(got);
        assert.equal(typeof got.id, 'string');
        assert.deepEqual({ ...got, id: '' }, { id: '', topic, key: 'k1', payload, attempts: 1 });
        assert.deepEqual(await store.claim(claimOpts('B', topic, T + 1)), [], 'claimed messages are not handed out');
        await store.complete(got.id, 'A');
        assert.deepEqual(await store.claim(claimOpts('B', topic, T + HOUR)), [], 'completed messages are gone');
      });

      it('deduplicates by (topic, key), keeping the first', async () => {
        const topic = uid('topic');
        const other = uid('topic');
        await store.enqueue([message(topic, 'k', T, 'first'), message(topic, 'k', T, 'second')]);
        await store.enqueue([message(topic, 'k', T, 'third'), message(other, 'k', T, 'other topic')]);
        const got = await store.claim(claimOpts('A', topic, T));
        assert.deepEqual(
          got.map((m) => m.payload),
          ['first'],
        );
        assert.deepEqual(
          (await store.claim(claimOpts('A', other, T))).map((m) => m.payload),
          ['other topic'],
        );
      });

      it('delays a message until availableAt, and hands out the earliest first', async () => {
        const topic = uid('topic');
        await store.enqueue([message(topic, 'late', T + 1000), message(topic, 'early', T + 500), message(topic, 'now', T)]);
        assert.deepEqual(
          (await store.claim(claimOpts('A', topic, T))).map((m) => m.key),
          ['now'],
        );
        assert.deepEqual(await store.claim(claimOpts('A', topic, T + 499)), []);
        assert.deepEqual(
          (await store.claim(claimOpts('A', topic, T + 2000, 1))).map((m) => m.key),
          ['early'],
        );
        assert.deepEqual(
          (await store.claim(claimOpts('A', topic, T + 2000))).map((m) => m.key),
          ['late'],
        );
      });

      it('respects the limit and the topic filter', async () => {
        const x = uid('topic');
        const y = uid('topic');
        await store.enqueue([...range(5).map((i) => message(x, `x${i}`, T)), ...range(3).map((i) => message(y, `y${i}`, T))]);
        assert.equal((await store.claim(claimOpts('A', x, T, 2))).length, 2);
        const onlyX = await store.claim(claimOpts('A', x, T, 100));
        assert.equal(onlyX.length, 3);
        assert.ok(onlyX.every((m) => m.topic === x));
        const both = await store.claim({ owner: 'A', now: T, limit: 100, leaseMs: 1000, topics: [x, y] });
        assert.deepEqual(both.map((m) => m.key).sort(), ['y0', 'y1', 'y2']);
        assert.deepEqual(await store.claim({ owner: 'A', now: T, limit: 100, leaseMs: 1000, topics: [] }), []);
      });

      it('without a topic filter claims from every topic', async () => {
        // Far-past times put our messages ahead of anything else in a shared store; the lease lapses at once.
        const topics = [uid('topic'), uid('topic')];
        const at = -1e12 - Math.floor(Math.random() * 1e9);
        await store.enqueue(topics.map((topic) => message(topic, 'k', at)));
        const owner = uid('owner');
        const got = await store.claim({ owner, now: at, limit: 1000, leaseMs: 1 });
        const ours = got.filter((m) => topics.includes(m.topic));
        assert.deepEqual(ours.map((m) => m.topic).sort(), [...topics].sort());
        for (const m of ours) await store.complete(m.id, owner);
      });

      it('concurrent claimers never share a message', async () => {
        const topic = uid('topic');
        await store.enqueue(range(40).map((i) => message(topic, `k${i}`, T)));
        const claims = await Promise.all(range(10).map((i) => store.claim(claimOpts(`owner${i}`, topic, T, 5))));
        const ids = claims.flat().map((m) => m.id);
        assert.equal(ids.length, 40);
        assert.equal(new Set(ids).size, 40);
        const pair = await Promise.all([store.claim(claimOpts('A', topic, T + 1)), store.claim(claimOpts('B', topic, T + 1))]);
        assert.equal(pair.flat().length, 0);
      });

      it('a lapsed lease lets another owner claim; the old owner can then neither complete nor retry', async () => {
        const topic = uid('topic');
        const lease = 1000;
        await store.enqueue([message(topic, 'k', T)]);
        const [first] = await store.claim(claimOpts('A', topic, T, 10, lease));
        assert.ok(first);
        assert.deepEqual(await store.claim(claimOpts('B', topic, T + lease - 1, 10, lease)), []);
        const [second] = await store.claim(claimOpts('B', topic, T + lease, 10, lease));
        assert.ok(second);
        assert.equal(second.id, first.id);
        assert.equal(second.attempts, 2);

        await store.complete(first.id, 'A');
        await store.retry(first.id, 'A', T, 'stale owner');
        assert.deepEqual(await store.claim(claimOpts('C', topic, T + lease + 1, 10, lease)), [], 'B still holds it');
        const [third] = await store.claim(claimOpts('C', topic, T + 2 * lease, 10, lease));
        assert.equal(third?.attempts, 3, 'the message survived the stale complete');
      });

      it('retry by the owner hands the message out again at retryAt; by anyone else it does nothing', async () => {
        const topic = uid('topic');
        await store.enqueue([message(topic, 'k', T)]);
        const [m] = await store.claim(claimOpts('A', topic, T, 10, HOUR));
        assert.ok(m);
        await store.retry(m.id, 'B', T, 'not mine');
        await store.complete(m.id, 'B');
        assert.deepEqual(await store.claim(claimOpts('C', topic, T + 1)), []);
        await store.retry(m.id, 'A', T + 5000, 'provider timeout');
        assert.deepEqual(await store.claim(claimOpts('C', topic, T + 4999)), []);
        const [again] = await store.claim(claimOpts('C', topic, T + 5000));
        assert.equal(again?.id, m.id);
        assert.equal(again?.attempts, 2);
        await store.complete(m.id, 'C');
        assert.deepEqual(await store.claim(claimOpts('C', topic, T + HOUR * 10)), []);
      });

      it('outboxStats: depth counts every message; ready and the oldest age only what could be claimed at now', async () => {
        // Far-past times: nothing else in a shared store is ready then (other tests' messages are due at T or later,
        // or completed), while depth counts the whole outbox, so it is compared before and after.
        const A = -2e12 - Math.floor(Math.random() * 1e9);
        const topic = uid('topic');
        const owner = uid('owner');
        const base = (await store.outboxStats(A)).depth;
        assert.deepEqual(await store.outboxStats(A), { depth: base, ready: 0, oldestAgeMs: 0 });

        await store.enqueue([message(topic, 'a', A), message(topic, 'b', A + 1000), message(topic, 'later', A + 10_000)]);
        assert.deepEqual(await store.outboxStats(A + 5000), { depth: base + 3, ready: 2, oldestAgeMs: 5000 });
        assert.deepEqual(await store.outboxStats(A - 1), { depth: base + 3, ready: 0, oldestAgeMs: 0 }, 'nothing due yet');

        // a claimed message is not ready while its lease holds; once it lapses, its age counts from the lease's end
        const [a] = await store.claim(claimOpts(owner, topic, A + 5000, 1, 1000));
        assert.equal(a?.key, 'a');
        assert.deepEqual(await store.outboxStats(A + 5500), { depth: base + 3, ready: 1, oldestAgeMs: 4500 });
        const [b] = await store.claim(claimOpts(owner, topic, A + 5500, 1, 1000));
        assert.equal(b?.key, 'b');
        assert.deepEqual(await store.outboxStats(A + 5800), { depth: base + 3, ready: 0, oldestAgeMs: 0 });
        assert.deepEqual(await store.outboxStats(A + 7000), { depth: base + 3, ready: 2, oldestAgeMs: 1000 });

        // completed: gone from the depth; retried: ready again at retryAt
        await store.complete(a!.id, owner);
        await store.retry(b!.id, owner, A + 20_000, 'later');
        assert.deepEqual(await store.outboxStats(A + 7000), { depth: base + 2, ready: 0, oldestAgeMs: 0 });
        assert.deepEqual(await store.outboxStats(A + 12_000), { depth: base + 2, ready: 1, oldestAgeMs: 2000 });
        assert.deepEqual(await store.outboxStats(A + 25_000), { depth: base + 2, ready: 2, oldestAgeMs: 15_000 });

        for (const m of await store.claim(claimOpts(owner, topic, A + 30_000))) await store.complete(m.id, owner);
        assert.deepEqual(await store.outboxStats(A + 30_000), { depth: base, ready: 0, oldestAgeMs: 0 });
      });
    });

    describe('idempotency records', () => {
      const TTL = 86_400_000;
      const LEASE = 30_000;
      const begin = (scope: string, key: string, fp: string, now: number): Promise<IdempotencyBegin> =>
        store.beginIdempotent(scope, key, fp, now, TTL, LEASE);
      /** Begins a request that must be new, and answers its holder token. */
      const beginNew = async (scope: string, key: string, fp: string, now: number): Promise<string> => {
        const r = await begin(scope, key, fp, now);
        if (r.state !== 'new') assert.fail(`expected new, got ${JSON.stringify(r)}`);
        assert.ok(typeof r.holder === 'string' && r.holder.length >= 16, 'a holder token');
        return r.holder;
      };

      it('new → running → done with the stored response → mismatch → expired is new again', async () => {
        const scope = uid('scope');
        const key = uid('key');
        const holder = await beginNew(scope, key, 'fp1', T);
        assert.deepEqual(await begin(scope, key, 'fp1', T + 1), { state: 'running' });
        assert.deepEqual(await begin(scope, key, 'fp2', T + 1), { state: 'mismatch' });
        const response = { status: 201, body: { orderNo: 'O-1', list: [1, 2] } };
        assert.equal(await store.finishIdempotent(scope, key, holder, response), true);
        assert.deepEqual(await begin(scope, key, 'fp1', T + 2), { state: 'done', response });
        assert.deepEqual(await begin(scope, key, 'fp1', T + LEASE * 2), { state: 'done', response }, 'done has no lease');
        assert.deepEqual(await begin(scope, key, 'fp2', T + 3), { state: 'mismatch' });
        assert.deepEqual(await begin(scope, key, 'fp1', T + TTL - 1), { state: 'done', response });
        await beginNew(scope, key, 'fp2', T + TTL); // an expired record is absent
        assert.deepEqual(await begin(scope, key, 'fp1', T + TTL + 1), { state: 'mismatch' });
      });

      it('an abandoned record is new again', async () => {
        const scope = uid('scope');
        const key = uid('key');
        const holder = await beginNew(scope, key, 'fp', T);
        assert.equal(await store.abandonIdempotent(scope, key, holder), true);
        await beginNew(scope, key, 'fp-other', T + 1);
        assert.deepEqual(await begin(scope, key, 'fp-other', T + 2), { state: 'running' });
      });

      it('a running record whose lease lapsed is taken over as new, with a fresh lease', async () => {
        const scope = uid('scope');
        const key = uid('key');
        await beginNew(scope, key, 'fp', T);
        assert.deepEqual(await begin(scope, key, 'fp', T + LEASE - 1), { state: 'running' });
        const second = await beginNew(scope, key, 'fp', T + LEASE);
        assert.deepEqual(await begin(scope, key, 'fp', T + LEASE + 1), { state: 'running' });
        assert.equal(await store.finishIdempotent(scope, key, second, { status: 200, body: null }), true);
        assert.deepEqual(await begin(scope, key, 'fp', T + LEASE + 2), {
          state: 'done',
          response: { status: 200, body: null },
        });
      });

      it('after a takeover, the first holder\'s finish and abandon change nothing; the second\'s finish is stored', async () => {
        const scope = uid('scope');
        const key = uid('key');
        const first = await beginNew(scope, key, 'fp', T);
        const second = await beginNew(scope, key, 'fp', T + LEASE);
        assert.notEqual(first, second, 'each hold has its own holder token');

        assert.equal(await store.finishIdempotent(scope, key, first, { status: 201, body: 'first' }), false);
        assert.deepEqual(await begin(scope, key, 'fp', T + LEASE + 1), { state: 'running' }, 'still the second\'s hold');
        assert.equal(await store.abandonIdempotent(scope, key, first), false);
        assert.deepEqual(await begin(scope, key, 'fp', T + LEASE + 2), { state: 'running' }, 'not deleted by the first');

        const response = { status: 200, body: { by: 'second' } };
        assert.equal(await store.finishIdempotent(scope, key, second, response), true);
        assert.deepEqual(await begin(scope, key, 'fp', T + LEASE + 3), { state: 'done', response });
        // nor can the first change or delete the stored response afterwards
        assert.equal(await store.finishIdempotent(scope, key, first, { status: 201, body: 'first' }), false);
        assert.equal(await store.abandonIdempotent(scope, key, first), false);
        assert.deepEqual(await begin(scope, key, 'fp', T + LEASE + 4), { state: 'done', response });
      });

      it('after a takeover, the first holder\'s abandon leaves the second\'s hold, which only the second abandons', async () => {
        const scope = uid('scope');
        const key = uid('key');
        const first = await beginNew(scope, key, 'fp', T);
        const second = await beginNew(scope, key, 'fp', T + LEASE);
        assert.equal(await store.abandonIdempotent(scope, key, first), false);
        assert.deepEqual(await begin(scope, key, 'fp', T + LEASE + 1), { state: 'running' });
        assert.equal(await store.abandonIdempotent(scope, key, second), true);
        assert.equal(await store.abandonIdempotent(scope, key, second), false, 'gone: nothing left to abandon');
        await beginNew(scope, key, 'fp', T + LEASE + 2);
      });

      it('a finish or abandon with another token, or of a record that is not there, changes nothing', async () => {
        const scope = uid('scope');
        const key = uid('key');
        assert.equal(await store.finishIdempotent(scope, key, 'no-such-holder', { status: 200, body: null }), false);
        assert.equal(await store.abandonIdempotent(scope, key, 'no-such-holder'), false);
        const holder = await beginNew(scope, key, 'fp', T);
        assert.equal(await store.finishIdempotent(scope, key, `${holder}x`, { status: 200, body: null }), false);
        assert.equal(await store.abandonIdempotent(scope, key, `${holder}x`), false);
        assert.deepEqual(await begin(scope, key, 'fp', T + 1), { state: 'running' });
      });

      it('concurrent begins: exactly one caller gets new', async () => {
        const scope = uid('scope');
        const key = uid('key');
        const results = await Promise.all(range(30).map(() => begin(scope, key, 'fp', T)));
        assert.equal(results.filter((r) => r.state === 'new').length, 1);
        assert.ok(results.every((r) => r.state === 'new' || r.state === 'running'));
      });

      it('keys are per scope', async () => {
        const key = uid('key');
        await beginNew(uid('scope'), key, 'fp', T);
        await beginNew(uid('scope'), key, 'other', T);
      });
    });

    describe('purgeExpired', () => {
      it('deletes expired transfer tokens and idempotency records, up to the limit', async () => {
        // Far-past times so that nothing else in a shared store is eligible except leftovers of this very test.
        const E = 7_000_000 + Math.floor(Math.random() * 1_000_000);
        const dead = range(3).map(() => uid('hash'));
        const alive = uid('hash');
        const rec = { partnerId: uid('partner'), userId: uid('user'), url: 'https://x.example/' };
        for (const hash of dead) await store.putTransfer(hash, { ...rec, expires: E });
        await store.putTransfer(alive, { ...rec, expires: E + 1 });
        const scope = uid('scope');
        assert.equal((await store.beginIdempotent(scope, 'old', 'fp', E - 1000, 1000, 100)).state, 'new');
        assert.equal((await store.beginIdempotent(scope, 'young', 'fp', E - 1000, 1001, 100)).state, 'new');

        assert.equal(await store.purgeExpired(E, 1), 1);
        const rest = await store.purgeExpired(E, 1000);
        assert.ok(rest >= 3, `purged ${rest}`);
        // read at a time before expiry: only a deleted record reads as null
        for (const hash of dead) assert.equal(await store.getTransfer(hash, 0), null);
        assert.notEqual(await store.getTransfer(alive, 0), null);
        assert.equal((await store.beginIdempotent(scope, 'old', 'other', E - 500, 1000, 100)).state, 'new');
        assert.deepEqual(await store.beginIdempotent(scope, 'young', 'other', E - 500, 1000, 100), { state: 'mismatch' });
        assert.equal(await store.purgeExpired(E, 0), 0);
      });
    });

    describe('tracking events', () => {
      it('lists a partner\'s events in append order, page by page after a cursor, and only its own', async () => {
        const partnerId = uid('partner');
        const other = uid('partner');
        const full = event(partnerId, T + 2, {
          action: 'order_paid',
          user: 'abc123',
          productId: null,
          count: null,
          orderNo: 'B-1',
          amount: 2598,
          currency: 'EUR',
          outcome: null,
          sessionId: 'S1',
          startTime: '2025-01-01T12:00:00.000000',
          source: 'jay.api.playout.example',
          provider: 'netflix',
          tracking: 'ok',
          apiVersion: null,
        });
        const input = [event(partnerId, T), event(partnerId, T + 1, { action: 'remove', count: null, tracking: 'undecodable' }), full, event(partnerId, T + 2, { action: 'clear', productId: null, count: null }), event(partnerId, T + 3, { count: 0 })];
        await store.appendEvents(input.slice(0, 3));
        await store.appendEvents([event(other, T)]);
        await store.appendEvents(input.slice(3));
        const first = await store.listEvents(partnerId, null, 2);
        assert.deepEqual(first.events.map(withoutId), input.slice(0, 2));
        assert.equal(first.next, first.events[1]!.id);
        const second = await store.listEvents(partnerId, first.next, 2);
        assert.deepEqual(second.events.map(withoutId), input.slice(2, 4));
        const third = await store.listEvents(partnerId, second.next, 2);
        assert.deepEqual(third.events.map(withoutId), input.slice(4));
        assert.deepEqual(await store.listEvents(partnerId, third.next, 2), { events: [], next: null });
        const ids = [...first.events, ...second.events, ...third.events].map((e) => e.id);
        assert.equal(new Set(ids).size, 5);
        assert.deepEqual((await store.listEvents(other, null, 10)).events.map(withoutId), [event(other, T)]);
        assert.deepEqual(await store.listEvents(uid('partner'), null, 10), { events: [], next: null });
        await store.appendEvents([]);
      });

      it('refuses a cursor it did not issue', async () => {
        for (const bad of ['x', '1.2.3', '-1', 'abc-def', '']) {
          await assert.rejects(store.listEvents(uid('partner'), bad, 10), CursorError, bad);
        }
      });

      it('misses nothing and repeats nothing under concurrent appends', async () => {
        const partnerId = uid('partner');
        const batches = range(20).map((b) => range(5).map((i) => event(partnerId, T + b, { user: `u${b}`, count: i + 1 })));
        // a reader that follows the list with its cursor while the writes go on
        const seen: StoredEvent[] = [];
        let after: string | null = null;
        const follow = async () => {
          const page = await store.listEvents(partnerId, after, 7);
          seen.push(...page.events);
          if (page.next !== null) after = page.next;
        };
        const reader = (async () => {
          for (let i = 0; i < 5; i++) {
            await follow();
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        await Promise.all([...batches.map((b) => store.appendEvents(b)), reader]);
        for (let i = 0; i < 30 && seen.length < 100; i++) await follow();
        assert.equal(seen.length, 100);
        assert.equal(new Set(seen.map((e) => e.id)).size, 100);
        // each batch keeps its order
        for (const b of range(20)) {
          assert.deepEqual(seen.filter((e) => e.user === `u${b}`).map((e) => e.count), [1, 2, 3, 4, 5]);
        }
        assert.deepEqual((await allEvents(store, partnerId, 1000)).map((e) => e.id), seen.map((e) => e.id));
      });

      it('sums the funnel per provider and source over [from, to), optionally of one session', async () => {
        const partnerId = uid('partner');
        const P = { provider: 'netflix', source: 'tv', sessionId: 'S1', tracking: 'ok' as const };
        await store.appendEvents([
          event(partnerId, T - 1, { ...P, user: 'early' }), // before the range
          event(partnerId, T, { ...P, user: 'a' }), // an add
          event(partnerId, T + 1, { ...P, user: 'a', action: 'update', count: 3 }), // an add
          event(partnerId, T + 1, { ...P, user: 'b', count: 0 }), // saved: not an add
          event(partnerId, T + 2, { ...P, user: 'b', action: 'update', count: null }),
          event(partnerId, T + 2, { ...P, user: 'c', action: 'remove', count: null }),
          event(partnerId, T + 3, { ...P, user: 'a', action: 'checkout_start', productId: null, count: null, orderNo: 'B-1', amount: 1000, currency: 'EUR' }),
          event(partnerId, T + 4, { ...P, user: 'a', action: 'order_paid', productId: null, count: null, orderNo: 'B-1', amount: 1000, currency: 'EUR' }),
          event(partnerId, T + 4, { ...P, user: 'b', action: 'order_paid', productId: null, count: null, orderNo: 'B-2', amount: 500, currency: 'EUR' }),
          event(partnerId, T + 4, { ...P, user: 'b', action: 'order_paid', productId: null, count: null, orderNo: 'B-3', amount: 700, currency: 'USD' }),
          event(partnerId, T + 5, { ...P, sessionId: 'S2', user: 'd' }), // another session, same provider and source
          event(partnerId, T + 5, { provider: 'netflix', source: 'web', user: 'a' }),
          event(partnerId, T + 6, { user: 'z' }), // no provider, no source
          event(partnerId, T + 10, { ...P, user: 'late' }), // at `to`: outside
        ]);
        const all = await store.eventFunnel({ partnerId, from: T, to: T + 10 });
        assert.deepEqual(all, [
          { provider: null, source: null, adds: 1, users: 1, checkoutsStarted: 0, paid: [] },
          {
            provider: 'netflix',
            source: 'tv',
            adds: 3,
            users: 4,
            checkoutsStarted: 1,
            paid: [
              { currency: 'EUR', orders: 2, value: 1500 },
              { currency: 'USD', orders: 1, value: 700 },
            ],
          },
          { provider: 'netflix', source: 'web', adds: 1, users: 1, checkoutsStarted: 0, paid: [] },
        ]);
        const s1 = await store.eventFunnel({ partnerId, from: T, to: T + 10, sessionId: 'S1' });
        assert.deepEqual(s1, [
          {
            provider: 'netflix',
            source: 'tv',
            adds: 2,
            users: 3,
            checkoutsStarted: 1,
            paid: [
              { currency: 'EUR', orders: 2, value: 1500 },
              { currency: 'USD', orders: 1, value: 700 },
            ],
          },
        ]);
        assert.deepEqual(await store.eventFunnel({ partnerId, from: T + 20, to: T + 30 }), []);
        assert.deepEqual(await store.eventFunnel({ partnerId, from: T, to: T }), []);
        assert.deepEqual(await store.eventFunnel({ partnerId: uid('partner'), from: T, to: T + 10 }), []);
      });

      it('purges events older than a time, of every partner, and keeps the rest', async () => {
        // long before every other test's events, so a shared store loses nothing another test needs
        const OLD = Date.UTC(2001, 0, 1);
        const a = uid('partner');
        const b = uid('partner');
        await store.appendEvents([event(a, OLD), event(a, OLD + 1), event(b, OLD + 1)]);
        await store.appendEvents([event(a, OLD + 1000), event(b, OLD + 1000)]);
        let purged = 0;
        for (let i = 0; i < 10; i++) {
          const n = await store.purgeEvents(OLD + 1000, 2);
          purged += n;
          if (n === 0) break;
        }
        assert.ok(purged >= 3, `purged ${purged}`);
        assert.deepEqual((await allEvents(store, a, 10)).map((e) => e.time), [OLD + 1000]);
        assert.deepEqual((await allEvents(store, b, 10)).map((e) => e.time), [OLD + 1000]);
        assert.equal(await store.purgeEvents(OLD + 1000, 100), 0);
      });
    });

    describe('comfort settings', () => {
      it('gets null, then what was put; overwrites; per user', async () => {
        const key = newKey();
        assert.equal(await store.getComfort(key), null);
        const s1 = { customerId: 'cus_1', paymentMethodId: 'pm_1', oneClick: true };
        await store.putComfort(key, s1);
        assert.deepEqual(await store.getComfort(key), s1);
        const s2 = { customerId: null, paymentMethodId: null, oneClick: false };
        await store.putComfort(key, s2);
        assert.deepEqual(await store.getComfort(key), s2);
        assert.equal(await store.getComfort({ partnerId: key.partnerId, userId: uid('user') }), null);
      });
    });
  });
}
