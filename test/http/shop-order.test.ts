/**
 * POST /api/order through the real server (shop-api.md §3.7): one order per basket whatever the concurrency, one
 * payment, the PSP's failure (502, the basket open again, a retry succeeds), a stale submission taken over with the
 * same order id, the order's outbox delivery, partner isolation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TOPIC_SHOP_ORDER } from '../../src/service/shop/orders.js';
import { startTestServer, type TestServer } from './harness.js';
import {
  addOn,
  CountingSandbox,
  DEMO,
  expectMessage,
  initiate,
  item,
  loadOffers,
  SHOP_ENV,
  SHOPCO,
  SHOPCO_CLIENT,
  shopCall,
  shopToken,
  submit,
} from './shop-helpers.js';

let t: TestServer;
let psp: CountingSandbox;
let token: string;
before(async () => {
  psp = new CountingSandbox();
  t = await startTestServer(SHOP_ENV, { psps: [psp] });
  await loadOffers(t, DEMO);
  await loadOffers(t, SHOPCO);
  token = await shopToken(t);
});
after(() => t?.close());

async function basket(order: Record<string, unknown> = { orderItems: [item('premium-monthly', 2), addOn('sports', 'premium-monthly')] }): Promise<string> {
  const res = await initiate(t, token, order);
  assert.equal(res.status, 200, res.raw);
  return res.body.id;
}

describe('POST /api/order', () => {
  it('creates and charges the order, completes the basket, queues its delivery; a second submit answers the same order', async () => {
    const id = await basket({ orderItems: [item('premium-monthly', 2), addOn('sports', 'premium-monthly')], external_id: 'shop-order-1' });
    const paymentsBefore = psp.payments.length;
    const res = await submit(t, token, id, { customerDetails: { email: 'ada@example.com' } });
    assert.equal(res.status, 200, res.raw);
    assert.match(res.body.id, /^order-[0-9a-f]{32}$/);
    assert.match(res.body.order_reference!, /^S-\d{8}-[A-Z2-9]{10}$/);
    assert.deepEqual(res.body, { id: res.body.id, order_reference: res.body.order_reference, status: 'completed', external_id: 'shop-order-1', subscriptionReference: null });
    assert.deepEqual(psp.payments.slice(paymentsBefore), [res.body.id]);

    const order = (await t.server.store.shop.getShopOrder(DEMO, res.body.id))!;
    assert.equal(order.total, 2 * 1799 + 499);
    assert.equal(order.currency, 'EUR');
    assert.equal(order.paymentProvider, 'sandbox');
    assert.equal(order.paymentRef, `sbx_${res.body.id}`);
    assert.equal(order.basketId, id);
    const stored = (await t.server.store.shop.getShopBasket(DEMO, id))!.basket;
    assert.equal(stored.status, 'completed');
    assert.equal(stored.submission!.orderId, res.body.id);
    assert.deepEqual(stored.details.customerDetails, { email: 'ada@example.com' });

    const again = await submit(t, token, id);
    assert.deepEqual(again.body, res.body);
    assert.equal(psp.payments.length, paymentsBefore + 1, 'charged once');

    // the delivery was queued; the handler finds the order completed and delivers it (logged: no webhook)
    const claimed = await t.server.store.claim({ now: t.clock.now, limit: 50, leaseMs: 60_000, owner: 'test', topics: [TOPIC_SHOP_ORDER] });
    const mine = claimed.find((m) => (m.payload as { orderId: string }).orderId === res.body.id);
    assert.ok(mine, 'a shop.order message for the order');
    await t.server.shopCheckout.delivery.handle(mine.payload as { partnerId: string; orderId: string }, mine);
  });

  it('concurrent submits of one basket: one order, one payment, every answer the same', async () => {
    const id = await basket();
    const before = psp.payments.length;
    const answers = await Promise.all(Array.from({ length: 8 }, () => submit(t, token, id)));
    for (const a of answers) assert.equal(a.status, 200, a.raw);
    assert.equal(new Set(answers.map((a) => a.body.id)).size, 1);
    assert.ok(answers.every((a) => a.body.status === 'completed'), JSON.stringify(answers.map((a) => a.body.status)));
    assert.equal(psp.payments.length - before, 1, 'one payment');
  });

  it('the PSP declines: 502 {"message"}, order failed, basket open; a retry succeeds with a new order', async () => {
    const id = await basket();
    psp.declining = true;
    let failed;
    try {
      failed = await submit(t, token, id);
    } finally {
      psp.declining = false;
    }
    expectMessage(failed, 502, /Payment failed/);
    const stored = (await t.server.store.shop.getShopBasket(DEMO, id))!.basket;
    assert.equal(stored.status, 'open');
    assert.equal(stored.submission, null);
    const failedOrderId = psp.payments.at(-1)!;
    assert.equal((await t.server.store.shop.getShopOrder(DEMO, failedOrderId))!.status, 'failed');

    const retry = await submit(t, token, id);
    assert.equal(retry.status, 200, retry.raw);
    assert.equal(retry.body.status, 'completed');
    assert.notEqual(retry.body.id, failedOrderId);
    assert.equal((await t.server.store.shop.getShopBasket(DEMO, id))!.basket.status, 'completed');
  });

  /** What a process leaves behind when it dies after step 1: the basket submitting, no order yet. */
  async function plantSubmission(id: string, orderId: string): Promise<void> {
    await t.server.store.shop.updateShopBasket(DEMO, id, (s) => {
      const b = { ...s!.basket, status: 'submitting' as const, submission: { orderId, started: t.clock.now } };
      return { basket: b, result: null };
    });
  }

  it('a submit during another one\'s submission waits for its outcome and answers its order, charging nothing', async () => {
    const id = await basket();
    const orderId = 'order-00000000000000000000000000000001';
    await plantSubmission(id, orderId);
    const before = psp.payments.length;
    const waiting = submit(t, token, id);
    // the other submission finishes: its order completed, the basket completed
    await t.server.store.shop.createShopOrder({
      id: orderId,
      partnerId: DEMO,
      basketId: id,
      externalId: null,
      status: 'completed',
      total: 1,
      currency: 'EUR',
      paymentProvider: null,
      paymentRef: null,
      created: t.clock.now,
      updated: t.clock.now,
      details: { orderReference: 'S-20261124-AAAAAAAAAA' },
    });
    await t.server.store.shop.updateShopBasket(DEMO, id, (s) => ({ basket: { ...s!.basket, status: 'completed' as const }, result: null }));
    const answer = await waiting;
    assert.equal(answer.status, 200, answer.raw);
    assert.deepEqual([answer.body.id, answer.body.status, answer.body.order_reference], [orderId, 'completed', 'S-20261124-AAAAAAAAAA']);
    assert.equal(psp.payments.length, before);
  });

  it('a submission whose process died is taken over after its lease, with the same order id', async () => {
    const id = await basket();
    const orderId = 'order-0123456789abcdef0123456789abcdef';
    await plantSubmission(id, orderId);
    const before = psp.payments.length;
    t.clock.now += 61_000;
    try {
      const taken = await submit(t, token, id);
      assert.equal(taken.status, 200, taken.raw);
      assert.deepEqual([taken.body.id, taken.body.status], [orderId, 'completed']);
      assert.deepEqual(psp.payments.slice(before), [orderId], 'the payment uses the same order id (the PSP idempotency key)');
      assert.equal((await t.server.store.shop.getShopBasket(DEMO, id))!.basket.status, 'completed');
    } finally {
      t.clock.now -= 61_000;
    }
  });

  it('unknown, malformed, foreign basket ids: 404; an empty basket: 400; bad bodies: 400', async () => {
    const shopcoToken = await shopToken(t, SHOPCO_CLIENT);
    const id = await basket();
    expectMessage(await submit(t, shopcoToken, id), 404, 'Basket not found');
    expectMessage(await submit(t, token, 'basket-00000000-0000-4000-8000-000000000000'), 404, 'Basket not found');
    expectMessage(await submit(t, token, 'not-a-basket'), 404, 'Basket not found');
    // a test mode the provider cannot run in is refused before anything is written or charged
    const payments = psp.payments.length;
    expectMessage(await submit(t, token, id, { payment: { testMode: false } }), 400, /testMode=false/);
    assert.equal(psp.payments.length, payments);
    assert.equal((await t.server.store.shop.getShopBasket(DEMO, id))!.basket.status, 'open');

    const empty = await basket({ orderItems: [] });
    expectMessage(await submit(t, token, empty), 400, 'The basket has no items');

    for (const body of [{}, { checkoutId: 5 }, { checkoutId: id, payment: { card: '4242' } }, { checkoutId: '' }]) {
      expectMessage(await shopCall(t, 'POST', '/api/order', { token, body }), 400);
    }
    expectMessage(await shopCall(t, 'POST', '/api/order', { token: null, body: { checkoutId: id } }), 401);
  });
});
