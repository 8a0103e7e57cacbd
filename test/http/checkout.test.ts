/**
 * Checkout state machine through the real server (real SQLite, real Fastify, sandbox PSP, controllable clock).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { issueGuestToken } from '../../src/auth/tokens.js';
import type { Product } from '../../src/domain/catalogue.js';
import { DEMO_KEY, startTestServer, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
  await t.server.store.upsertProducts('demo', [
    { productId: 'usd-1', variant: null, mainProductIdentifier: null, name: 'Dollar cap', brand: null, price: 1500, currency: 'USD', taxRateBp: 0, stock: null, shopSource: null, slug: null, images: [] },
    // 666.66 with shipping free: the sandbox PSP's magic decline amount
    { productId: 'decline-1', variant: null, mainProductIdentifier: null, name: 'Declined', brand: null, price: 66_666, currency: 'EUR', taxRateBp: 1900, stock: 5, shopSource: null, slug: null, images: [] },
  ]);
});
after(() => t.close());

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, user: string, body?: unknown, extra: Record<string, string> = {}, token?: string) {
  const tok = token ?? (await t.demoToken(user));
  const res = await t.server.app.inject({
    method,
    url,
    headers: userHeaders(DEMO_KEY, tok, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...extra }),
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<Any>, headers: res.headers };
}

const put = (user: string, productId: string, count: number) => call('POST', `/v2/baskets/users/${user}/products/${productId}`, user, { count });
const start = (user: string, body: unknown = {}, query = '', extra: Record<string, string> = {}) =>
  call('POST', `/v2/baskets/users/${user}/checkout/sessions${query}`, user, body, extra);
const finish = (user: string, ordered: boolean) => call('POST', `/v2/baskets/users/${user}/checkout/sessions/finish-active`, user, { ordered });
const basket = async (user: string) => (await call('GET', `/v2/baskets/users/${user}`, user)).body.data;

async function stockOf(id: string): Promise<Pick<Product, 'stock' | 'reserved'>> {
  const p = (await t.server.store.getProducts('demo', [id])).get(id)!;
  return { stock: p.stock, reserved: p.reserved };
}

const lines = (ls: { productId: string; count: number }[]) => ls.map((l) => `${l.productId}:${l.count}`);

describe('start a checkout', () => {
  it('moves the cart to checkout, reserves per line, prices in minor units, creates order and payment', async () => {
    await put('s1', 'prod-123', 2);
    await put('s1', 'shoe-43', 1); // stock 0: not reserved, not charged
    await put('s1', 'prod-789', 1); // unlimited
    await put('s1', 'hat-1', 0); // saved: stays out of the checkout
    const before123 = await stockOf('prod-123');
    const r = await start('s1', { language: 'de', country: 'DE' }, '?testMode=true');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const d = r.body.data;
    assert.match(d.orderNo, /^B-\d{8}-[A-Z0-9]{10}$/);
    assert.equal(d.status, 'pending_payment');
    assert.equal(d.currency, 'EUR');
    // 2 × 129.90 + 39.95 = 299.75; tax 41.48 + 6.38; shipping free from 50.00
    assert.equal(d.fullPrice, 299.75);
    assert.equal(d.fullTax, 47.86);
    assert.equal(d.shippingCost, 0);
    assert.equal(d.testMode, true);
    assert.equal(d.paymentProvider, 'sandbox');
    assert.equal(d.payment.paymentId, `sbx_${d.orderNo}`);
    assert.equal(d.expires, new Date(t.clock.now + 30 * 60_000).toISOString().replace('.000Z', 'Z'));
    assert.deepEqual(
      d.checkout.map((l: Any) => [l.productId, l.count, l.stocked]),
      [
        ['prod-123', 2, 2],
        ['shoe-43', 1, -1],
        ['prod-789', 1, null],
      ],
    );
    const b = await basket('s1');
    assert.deepEqual(b.cart, []);
    assert.deepEqual(lines(b.saved), ['hat-1:1']);
    assert.equal(b.checkout.length, 3);
    assert.deepEqual(await stockOf('prod-123'), { stock: before123.stock, reserved: before123.reserved + 2 });
    const order = await t.server.store.getOrder('demo', d.orderNo);
    assert.equal(order?.fullPrice, 29_975);
    assert.equal(order?.lines.find((l) => l.productId === 'shoe-43')?.lineTotal, 0);
  });

  it('charges shipping below freeFrom', async () => {
    await put('s2', 'mug-1', 1);
    const r = await start('s2');
    assert.equal(r.status, 200);
    assert.equal(r.body.data.fullPrice, 17.94); // 12.99 + 4.95
    assert.equal(r.body.data.fullTax, 0.85);
    assert.equal(r.body.data.shippingCost, 4.95);
  });

  it('refuses a second start (2014), an empty cart (2016)', async () => {
    const again = await start('s1');
    assert.equal(again.status, 409);
    assert.equal(again.body.error?.code, 2014);
    const empty = await start('nobody-here');
    assert.equal(empty.status, 422);
    assert.equal(empty.body.error?.code, 2016);
  });

  it('answers 2013 when no line can be reserved, leaving basket and stock as they were', async () => {
    await put('s3', 'shoe-43', 2);
    const b0 = await basket('s3');
    const r = await start('s3');
    assert.equal(r.status, 409);
    assert.equal(r.body.error?.code, 2013);
    const b1 = await basket('s3');
    assert.deepEqual([b1.cart, b1.checkout], [b0.cart, b0.checkout]);
    assert.deepEqual(await stockOf('shoe-43'), { stock: 0, reserved: 0 });
  });

  it('refuses a product without price or unknown (404 2012) before reserving anything', async () => {
    await put('s4', 'prod-456', 1);
    await put('s4', 'poster-1', 1);
    const before456 = await stockOf('prod-456');
    const r = await start('s4');
    assert.equal(r.status, 404);
    assert.equal(r.body.error?.code, 2012);
    assert.match(r.body.error!.message, /poster-1/);
    assert.deepEqual(await stockOf('prod-456'), before456);
    assert.deepEqual(lines((await basket('s4')).cart), ['prod-456:1', 'poster-1:1']);
  });

  it('a start that outlived its one-start hold leaves alone the hold another start took over', async () => {
    await put('s-lapse', 'prod-789', 1);
    const store = t.server.store;
    const hold = () => store.beginIdempotent('checkout-start:demo', 's-lapse', 'start', t.clock.now, 60_000, 60_000);
    const reserveStock = store.reserveStock;
    // mid-start, the hold's 60 s lease lapses and another start takes the hold over
    store.reserveStock = async (...args) => {
      store.reserveStock = reserveStock;
      t.clock.now += 61_000;
      assert.equal((await hold()).state, 'new');
      return reserveStock.apply(store, args);
    };
    try {
      assert.equal((await start('s-lapse')).status, 200);
    } finally {
      store.reserveStock = reserveStock;
    }
    assert.deepEqual(await hold(), { state: 'running' }, 'the other start still holds it');
  });

  it('refuses mixed currencies (422 3002)', async () => {
    await put('s5', 'prod-789', 1);
    await put('s5', 'usd-1', 1);
    const r = await start('s5');
    assert.equal(r.status, 422);
    assert.equal(r.body.error?.code, 3002);
    assert.match(r.body.error!.message, /currencies/);
  });

  it('PSP failure: 502 2022, basket and stock as before, order cancelled', async () => {
    await put('s6', 'decline-1', 1);
    const r = await start('s6');
    assert.equal(r.status, 502);
    assert.equal(r.body.error?.code, 2022);
    assert.deepEqual(await stockOf('decline-1'), { stock: 5, reserved: 0 });
    const b = await basket('s6');
    assert.deepEqual(lines(b.cart), ['decline-1:1']);
    assert.deepEqual(b.checkout, []);
    const orders = await t.server.store.listOrders('demo', 's6', 10, null);
    assert.deepEqual(orders.orders.map((o) => o.status), ['cancelled']);
  });

  it('validates input: testMode, language, country, Idempotency-Key length', async () => {
    await put('s7', 'mug-1', 1);
    for (const [body, query] of [
      [{}, '?testMode=yes'],
      [{ language: 'DE' }, ''],
      [{ country: 'deu' }, ''],
      [{ stripeUsingSdk: 'true' }, ''],
    ] as const) {
      const r = await start('s7', body, query);
      assert.equal(r.status, 422, JSON.stringify([body, query]));
      assert.equal(r.body.error?.code, 3002);
    }
    const long = await start('s7', {}, '', { 'idempotency-key': 'k'.repeat(256) });
    assert.equal(long.status, 422);
    assert.deepEqual((await basket('s7')).checkout, []);
  });
});

describe('the sandbox payment provider', () => {
  it('runs in test mode only: testMode=false is refused (422 3002) before anything is reserved or ordered', async () => {
    await put('m1', 'prod-123', 1);
    const before123 = await stockOf('prod-123');
    const r = await start('m1', {}, '?testMode=false');
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, 3002);
    assert.match(r.body.error!.message, /testMode=false.*sandbox/);
    assert.deepEqual(r.body.error?.details, [{ field: 'querystring.testMode', message: 'the partner pays with the sandbox provider, which runs in test mode only' }]);
    assert.deepEqual(await stockOf('prod-123'), before123);
    assert.deepEqual((await t.server.store.listOrders('demo', 'm1', 10, null)).orders, []);
    assert.deepEqual(lines((await basket('m1')).cart), ['prod-123:1']);
    // testMode=true and no testMode both answer what they ran in
    const ok = await start('m1', {}, '?testMode=true');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.data.testMode, true);
  });

  it("the payment's status follows the order: succeeded once ordered, canceled once cancelled (getOrder, listOrders)", async () => {
    const paymentOf = async (user: string, orderNo: string) => {
      const one = await call('GET', `/v2/baskets/users/${user}/orders/${orderNo}`, user);
      const all = await call('GET', `/v2/baskets/users/${user}/orders`, user);
      const listed = all.body.data.orders.find((o: Any) => o.orderNo === orderNo);
      assert.deepEqual(listed.payment, one.body.data.payment);
      return { status: one.body.data.status, payment: one.body.data.payment };
    };
    await put('m2', 'mug-1', 1);
    const a = (await start('m2')).body.data.orderNo as string;
    assert.deepEqual(await paymentOf('m2', a), { status: 'pending_payment', payment: { paymentId: `sbx_${a}`, status: 'requires_confirmation' } });
    assert.equal((await finish('m2', true)).status, 200);
    assert.deepEqual(await paymentOf('m2', a), { status: 'ordered', payment: { paymentId: `sbx_${a}`, status: 'succeeded' } });

    await put('m2', 'mug-1', 1);
    const b = (await start('m2')).body.data.orderNo as string;
    assert.equal((await finish('m2', false)).status, 200);
    assert.deepEqual(await paymentOf('m2', b), { status: 'cancelled', payment: { paymentId: `sbx_${b}`, status: 'canceled' } });

    // a session that expires is cancelled the same way
    await put('m3', 'mug-1', 1);
    const c = (await start('m3')).body.data.orderNo as string;
    t.clock.now += 31 * 60_000;
    while ((await t.server.outbox.runOnce()) > 0) {
      /* expiries */
    }
    assert.deepEqual(await paymentOf('m3', c), { status: 'cancelled', payment: { paymentId: `sbx_${c}`, status: 'canceled' } });
  });
});

describe('during a checkout', () => {
  it('product operations touch only cart and saved; deleting the basket is refused (423)', async () => {
    await put('d1', 'prod-456', 1);
    assert.equal((await start('d1')).status, 200);
    const checkout = (await basket('d1')).checkout;
    await put('d1', 'prod-456', 3); // same product into the cart again
    await put('d1', 'mug-1', 0);
    await call('DELETE', '/v2/baskets/users/d1/products/mug-1', 'd1');
    const b = await basket('d1');
    assert.deepEqual(b.checkout, checkout);
    assert.deepEqual(lines(b.cart), ['prod-456:3']);
    const del = await call('DELETE', '/v2/baskets/users/d1', 'd1');
    assert.equal(del.status, 423);
    assert.equal(del.body.error?.code, 423);
  });
});

describe('finish the active checkout', () => {
  it('ordered=true: reserved lines leave, unreserved lines go back, stock committed, order ordered and delivered', async () => {
    await put('f1', 'shoe-42', 2);
    await put('f1', 'shoe-43', 1);
    const s0 = await stockOf('shoe-42');
    const r = await start('f1');
    const orderNo = r.body.data.orderNo as string;
    const f = await finish('f1', true);
    assert.equal(f.status, 200);
    assert.deepEqual(f.body.data.checkout, []);
    assert.deepEqual(lines(f.body.data.cart), ['shoe-43:1']);
    assert.deepEqual(await stockOf('shoe-42'), { stock: s0.stock! - 2, reserved: s0.reserved });
    assert.equal((await t.server.store.getOrder('demo', orderNo))?.status, 'ordered');
    assert.equal(await t.server.store.getReservationState('demo', (await t.server.store.getOrder('demo', orderNo))!.sessionId), 'committed');
    assert.ok((await t.server.outbox.runOnce()) >= 1); // order.process (logged: no webhook for the demo partner)
  });

  it('repeating ordered=true is harmless (200, nothing changes); the opposite answer is 409 2015', async () => {
    const s0 = await stockOf('shoe-42');
    const again = await finish('f1', true);
    assert.equal(again.status, 200);
    assert.deepEqual(lines(again.body.data.cart), ['shoe-43:1']);
    assert.deepEqual(await stockOf('shoe-42'), s0);
    const other = await finish('f1', false);
    assert.equal(other.status, 409);
    assert.equal(other.body.error?.code, 2015);
  });

  it('no checkout ever: 409 2015; a bad body: 422 3002', async () => {
    const r = await finish('never', true);
    assert.equal(r.status, 409);
    assert.equal(r.body.error?.code, 2015);
    for (const body of [{}, { ordered: 'true' }, { ordered: 1 }]) {
      const bad = await call('POST', '/v2/baskets/users/never/checkout/sessions/finish-active', 'never', body);
      assert.equal(bad.status, 422);
      assert.equal(bad.body.error?.code, 3002);
    }
  });

  it('ordered=false: lines merge back (counts add up, capped), stock released, payment cancelled, order cancelled', async () => {
    await put('f2', 'prod-456', 2);
    await put('f2', 'mug-1', 1);
    const s0 = await stockOf('prod-456');
    const r = await start('f2');
    const orderNo = r.body.data.orderNo as string;
    await put('f2', 'prod-456', 98); // added again during the checkout
    await put('f2', 'prod-789', 1);
    const f = await finish('f2', false);
    assert.equal(f.status, 200);
    assert.deepEqual(f.body.data.checkout, []);
    assert.deepEqual(lines(f.body.data.cart), ['prod-456:99', 'prod-789:1', 'mug-1:1']);
    assert.deepEqual(await stockOf('prod-456'), s0);
    assert.equal((await t.server.store.getOrder('demo', orderNo))?.status, 'cancelled');
    assert.equal((await finish('f2', false)).status, 200); // harmless repeat
    assert.equal((await finish('f2', true)).status, 409);
    // a new checkout can start again
    assert.equal((await start('f2')).status, 200);
    assert.equal((await finish('f2', false)).status, 200);
  });
});

describe('expiry', () => {
  it('the outbox worker aborts a session past its expiry like ordered=false', async () => {
    await put('e1', 'hat-1', 2);
    const r = await start('e1');
    assert.equal(r.status, 200);
    assert.equal((await stockOf('hat-1')).reserved, 2);
    t.clock.now += 29 * 60_000;
    await t.server.outbox.runOnce();
    assert.equal((await basket('e1')).checkout.length, 1, 'not yet expired');
    t.clock.now += 2 * 60_000;
    await t.server.outbox.runOnce();
    const b = await basket('e1');
    assert.deepEqual(b.checkout, []);
    assert.deepEqual(lines(b.cart), ['hat-1:2']);
    assert.deepEqual(await stockOf('hat-1'), { stock: 3, reserved: 0 });
    assert.equal((await t.server.store.getOrder('demo', r.body.data.orderNo))?.status, 'cancelled');
    assert.equal((await finish('e1', true)).status, 409);
  });

  it('releases the reservation of a session that never became active (crash between steps)', async () => {
    const sessionId = 'crashed-session-1';
    await t.server.store.enqueue([
      { topic: 'checkout.expire', key: sessionId, payload: { partnerId: 'demo', userId: 'e2', guest: false, sessionId, orderNo: 'B-X-CRASH' }, availableAt: t.clock.now + 1000 },
    ]);
    await t.server.store.reserveStock('demo', sessionId, [{ productId: 'hat-1', count: 1 }]);
    assert.equal((await stockOf('hat-1')).reserved, 1);
    t.clock.now += 1000;
    await t.server.outbox.runOnce();
    assert.deepEqual(await stockOf('hat-1'), { stock: 3, reserved: 0 });
    assert.equal(await t.server.store.getReservationState('demo', sessionId), 'released');
  });

  it('a tombstoned session can no longer reserve (a start slower than its lifetime)', async () => {
    const sessionId = 'slow-session-1';
    await t.server.store.enqueue([
      { topic: 'checkout.expire', key: sessionId, payload: { partnerId: 'demo', userId: 'e3', guest: false, sessionId, orderNo: 'B-X-SLOW' }, availableAt: t.clock.now },
    ]);
    await t.server.outbox.runOnce();
    const late = await t.server.store.reserveStock('demo', sessionId, [{ productId: 'hat-1', count: 1 }]);
    assert.deepEqual(late, []);
    assert.equal((await stockOf('hat-1')).reserved, 0);
  });
});

describe('Idempotency-Key', () => {
  it('same key and body: the same response, once; another body: 422 2021', async () => {
    await put('i1', 'mug-1', 2);
    const h = { 'idempotency-key': 'key-i1-a' };
    const a = await start('i1', { language: 'en' }, '', h);
    const b = await start('i1', { language: 'en' }, '', h);
    assert.equal(a.status, 200);
    assert.deepEqual(b.body, a.body);
    assert.equal(b.headers['idempotent-replayed'], 'true');
    // the bare path is the same operation
    const bare = await call('POST', '/baskets/users/i1/checkout/sessions', 'i1', { language: 'en' }, h);
    assert.deepEqual(bare.body, a.body);
    const c = await start('i1', { language: 'de' }, '', h);
    assert.equal(c.status, 422);
    assert.equal(c.body.error?.code, 2021);
    const q = await start('i1', { language: 'en' }, '?testMode=false', h);
    assert.equal(q.body.error?.code, 2021);
    assert.equal((await t.server.store.listOrders('demo', 'i1', 10, null)).orders.length, 1);
  });

  it('keeps a refusal too, and the key is per user', async () => {
    const h = { 'idempotency-key': 'shared-key' };
    const a = await start('i2', {}, '', h);
    assert.equal(a.body.error?.code, 2016);
    await put('i2', 'mug-1', 1);
    const b = await start('i2', {}, '', h);
    assert.equal(b.body.error?.code, 2016, 'the stored answer, not a new checkout');
    await put('i3', 'mug-1', 1);
    assert.equal((await start('i3', {}, '', h)).status, 200);
  });

  it('concurrent requests with one key: one runs, the other gets its result or 409', async () => {
    await put('i4', 'mug-1', 1);
    const h = { 'idempotency-key': 'key-i4' };
    const rs = await Promise.all([start('i4', {}, '', h), start('i4', {}, '', h), start('i4', {}, '', h)]);
    const oks = rs.filter((r) => r.status === 200);
    assert.ok(oks.length >= 1);
    for (const r of rs) {
      if (r.status === 200) assert.equal(r.body.data.orderNo, oks[0]!.body.data.orderNo);
      else assert.equal(r.body.error?.code, 409);
    }
    assert.equal((await t.server.store.listOrders('demo', 'i4', 10, null)).orders.length, 1);
  });
});

describe('orders', () => {
  it('lists the user’s orders newest first with cursor paging; a bad cursor is 422 3002', async () => {
    for (let i = 0; i < 3; i++) {
      await put('o1', 'mug-1', i + 1);
      t.clock.now += 1000;
      assert.equal((await start('o1')).status, 200);
      assert.equal((await finish('o1', i % 2 === 0)).status, 200);
    }
    const p1 = await call('GET', '/v2/baskets/users/o1/orders?limit=2', 'o1');
    assert.equal(p1.status, 200);
    assert.equal(p1.body.data.orders.length, 2);
    assert.ok(p1.body.nextToken);
    const p2 = await call('GET', `/v2/baskets/users/o1/orders?limit=2&nextToken=${encodeURIComponent(p1.body.nextToken!)}`, 'o1');
    assert.equal(p2.body.data.orders.length, 1);
    assert.equal(p2.body.nextToken, null);
    const statuses = [...p1.body.data.orders, ...p2.body.data.orders].map((o: Any) => o.status);
    assert.deepEqual(statuses, ['ordered', 'cancelled', 'ordered']);
    const bad = await call('GET', '/v2/baskets/users/o1/orders?nextToken=garbage', 'o1');
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error?.code, 3002);
    const badLimit = await call('GET', '/v2/baskets/users/o1/orders?limit=0', 'o1');
    assert.equal(badLimit.status, 422);
  });

  it('one order by number; another user’s order is 404 ORDER_NOT_FOUND', async () => {
    const list = await call('GET', '/v2/baskets/users/o1/orders', 'o1');
    const no = list.body.data.orders[0].orderNo as string;
    const one = await call('GET', `/v2/baskets/users/o1/orders/${no}`, 'o1');
    assert.equal(one.status, 200);
    assert.equal(one.body.data.orderNo, no);
    assert.equal(one.body.data.lines[0].taxRate, 7);
    const other = await call('GET', `/v2/baskets/users/o2/orders/${no}`, 'o2');
    assert.equal(other.status, 404);
    assert.equal(other.body.error?.code, 404);
    assert.equal(other.body.error?.details, 'ORDER_NOT_FOUND');
  });
});

describe('comfort settings', () => {
  it('stores and merges the settings of a partner user', async () => {
    const a = await call('PATCH', '/v2/baskets/users/c1/comfort', 'c1', { customerId: 'cus_1', oneClick: true });
    assert.equal(a.status, 200);
    assert.deepEqual(a.body.data, { customerId: 'cus_1', paymentMethodId: null, oneClick: true });
    const b = await call('PATCH', '/v2/baskets/users/c1/comfort', 'c1', { paymentMethodId: 'pm_1' });
    assert.deepEqual(b.body.data, { customerId: 'cus_1', paymentMethodId: 'pm_1', oneClick: true });
    assert.deepEqual(await t.server.store.getComfort({ partnerId: 'demo', userId: 'c1' }), b.body.data);
    const bad = await call('PATCH', '/v2/baskets/users/c1/comfort', 'c1', { oneClick: 'yes' });
    assert.equal(bad.status, 422);
  });

  it('refuses guests (403 2020)', async () => {
    const token = await issueGuestToken(t.server.serviceKeys, 'demo', 'guest-c2', t.clock.now + 3_600_000);
    const r = await call('PATCH', '/v2/baskets/users/guest-c2/comfort', 'guest-c2', { oneClick: true }, {}, token);
    assert.equal(r.status, 403);
    assert.equal(r.body.error?.code, 2020);
  });
});
