/**
 * Shop orders paid with Stripe (shop-api.md §3.7), through the real server against the Stripe stand-in: the order
 * answered `pending` with the client secret, the basket submitting (repeated submits, the lapsed lease: the same
 * pending order, no second PaymentIntent), then Stripe's signed webhook completes it (basket completed, one
 * `shop.order` delivery, an upgrade applied) or fails it (payment cancelled, basket open for a new order).
 * Duplicate and concurrent webhooks change nothing more.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ShopOrder, Subscription } from '../../src/domain/shop/records.js';
import { TOPIC_SHOP_ORDER, TOPIC_SHOP_PAYMENT_DEADLINE } from '../../src/service/shop/orders.js';
import { intentEvent, stripeSignature, StripeStandIn } from '../helpers/stripe-stand-in.js';
import { startTestServer, TEST_PARTNERS, type TestServer } from './harness.js';
import { initiate, item, offer, shopCall, shopToken, submit } from './shop-helpers.js';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PARTNER = 'stripeshop';
const CLIENT = { id: 'stripeshop-web', secret: 'stripeshop-secret-abcdefghijklmnop' };
const WHSEC = 'whsec_shop_0123456789';
const DAY = 86_400_000;

const standIn = new StripeStandIn();
let t: TestServer;
let token: string;

before(async () => {
  const base = await standIn.listen();
  t = await startTestServer({
    STRIPE_API_BASE: base,
    PARTNERS_JSON: JSON.stringify([
      ...TEST_PARTNERS,
      {
        id: PARTNER,
        apiKeys: ['stripeshop-api-key-0001'],
        jwt: { secret: 'stripeshop-partner-secret-0123456789' },
        psps: ['stripe'],
        stripe: { secretKey: 'sk_test_standin', publishableKey: 'pk_test_standin', webhookSecret: WHSEC },
        shop: { clients: [{ ...CLIENT, scopes: ['checkout'] }], url: 'https://shop.example/basket', recaptcha: { development: true } },
      },
    ]),
  });
  await t.server.store.shop.putOffers(PARTNER, [
    offer('basic-monthly', { upgrades: ['premium-monthly'] }),
    offer('premium-monthly', { price: 1799, downgrades: ['basic-monthly'] }),
  ]);
  token = await shopToken(t, CLIENT);
});
after(async () => {
  await t?.close();
  await standIn.close();
});

function webhook(event: unknown) {
  const payload = JSON.stringify(event);
  return t.server.app.inject({
    method: 'POST',
    url: '/psp/stripe/webhook',
    headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(payload, WHSEC, Math.floor(t.clock.now / 1000)) },
    payload,
  });
}

async function handled(event: unknown): Promise<boolean> {
  const res = await webhook(event);
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { data: { handled: boolean } }).data.handled;
}

const intentsCreated = () => standIn.requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents').length;
const storedOrder = async (id: string) => (await t.server.store.shop.getShopOrder(PARTNER, id)) as ShopOrder;
const storedBasket = async (id: string) => (await t.server.store.shop.getShopBasket(PARTNER, id))!.basket;

/** The `shop.order` messages queued for the order (claimed to look, then given back). */
async function deliveries(orderId: string): Promise<number> {
  const claimed = await t.server.store.claim({ now: t.clock.now, limit: 500, leaseMs: 60_000, owner: 'look', topics: [TOPIC_SHOP_ORDER] });
  for (const m of claimed) await t.server.store.retry(m.id, 'look', t.clock.now, 'looked at');
  return claimed.filter((m) => (m.payload as { orderId: string }).orderId === orderId).length;
}

/** A basket of two premium subscriptions submitted: answered pending; returns the answer and its intent. */
async function pendingOrder(): Promise<{ basketId: string; answer: Any; pi: Any }> {
  const b = await initiate(t, token, { orderItems: [item('premium-monthly', 2)] });
  assert.equal(b.status, 200, b.raw);
  const res = await submit(t, token, b.body.id);
  assert.equal(res.status, 200, res.raw);
  const answer = res.body as Any;
  assert.equal(answer.status, 'pending');
  const pi = standIn.intents.get(answer.payment.paymentIntentId);
  assert.ok(pi, 'a PaymentIntent at the stand-in');
  return { basketId: b.body.id, answer, pi };
}

describe('shop orders paid with Stripe', () => {
  it('submit: pending with the client secret, the basket submitting; repeated submits and a lapsed lease answer the same order', async () => {
    const before = intentsCreated();
    const { basketId, answer, pi } = await pendingOrder();
    assert.match(answer.id, /^order-[0-9a-f]{32}$/);
    assert.deepEqual(answer.payment, {
      provider: 'stripe',
      paymentIntentId: pi.id,
      status: 'requires_payment_method',
      oneClick: false,
      clientSecret: `${pi.id}_secret_abc`,
      publishableKey: 'pk_test_standin',
    });
    assert.equal(pi.amount, 2 * 1799);
    assert.equal(pi.currency, 'eur');
    const req = standIn.requests.findLast((r) => r.method === 'POST' && r.path === '/v1/payment_intents')!;
    assert.equal(req.idempotencyKey, `basket-pi-${PARTNER}-${answer.id}`);

    const order = await storedOrder(answer.id);
    assert.deepEqual([order.status, order.paymentProvider, order.paymentRef], ['pending', 'stripe', pi.id]);
    const basket = await storedBasket(basketId);
    assert.equal(basket.status, 'submitting');
    assert.deepEqual(basket.submission, { orderId: answer.id, started: basket.submission!.started, awaitingPayment: true });
    assert.equal(await deliveries(answer.id), 0, 'nothing delivered before the payment');

    const again = await submit(t, token, basketId);
    assert.deepEqual(again.body, answer);
    t.clock.now += 10 * 60_000; // far past the submission's lease: the customer is paying, nothing died
    try {
      const late = await submit(t, token, basketId);
      assert.equal(late.status, 200, late.raw);
      assert.deepEqual(late.body, answer);
    } finally {
      t.clock.now -= 10 * 60_000;
    }
    assert.deepEqual((await storedBasket(basketId)).submission, basket.submission, 'not taken over');
    assert.equal(intentsCreated(), before + 1, 'one PaymentIntent');
  });

  it('payment_intent.succeeded: order completed, basket completed, one delivery; duplicates change nothing', async () => {
    const { basketId, answer, pi } = await pendingOrder();
    assert.equal(await handled(intentEvent('succeeded', pi)), true);
    assert.equal((await storedOrder(answer.id)).status, 'completed');
    assert.equal((await storedBasket(basketId)).status, 'completed');
    assert.equal(await deliveries(answer.id), 1);

    const after = await submit(t, token, basketId);
    assert.deepEqual(after.body, { id: answer.id, order_reference: answer.order_reference, status: 'completed', external_id: null, subscriptionReference: null });

    // Stripe retries: the message is delivered meanwhile, and no retry queues it again
    const claimed = await t.server.store.claim({ now: t.clock.now, limit: 500, leaseMs: 60_000, owner: 'deliver', topics: [TOPIC_SHOP_ORDER] });
    const mine = claimed.find((m) => (m.payload as { orderId: string }).orderId === answer.id)!;
    await t.server.shopCheckout.delivery.handle(mine.payload as { partnerId: string; orderId: string }, mine);
    for (const m of claimed) {
      if (m === mine) await t.server.store.complete(m.id, 'deliver');
      else await t.server.store.retry(m.id, 'deliver', t.clock.now, 'not this test');
    }
    const updated = (await storedOrder(answer.id)).updated;
    assert.equal(await handled(intentEvent('succeeded', pi)), false);
    assert.equal(await handled(intentEvent('payment_failed', pi)), false, 'a late failure of a completed order');
    assert.equal(await deliveries(answer.id), 0);
    assert.equal((await storedOrder(answer.id)).updated, updated);
    assert.equal((await storedBasket(basketId)).status, 'completed');
  });

  it('concurrent duplicate deliveries of the success complete the order once', async () => {
    const { basketId, answer, pi } = await pendingOrder();
    const results = await Promise.all(Array.from({ length: 4 }, () => webhook(intentEvent('succeeded', pi))));
    for (const r of results) assert.equal(r.statusCode, 200, r.body);
    assert.equal((await storedOrder(answer.id)).status, 'completed');
    assert.equal((await storedBasket(basketId)).status, 'completed');
    assert.equal(await deliveries(answer.id), 1);
  });

  it('payment_intent.payment_failed: intent cancelled, order failed, basket open; a new submit makes a new order', async () => {
    const { basketId, answer, pi } = await pendingOrder();
    assert.equal(await handled(intentEvent('payment_failed', pi)), true);
    assert.equal(pi.status, 'canceled', 'the failed payment can no longer be retried into a success');
    assert.equal((await storedOrder(answer.id)).status, 'failed');
    const basket = await storedBasket(basketId);
    assert.deepEqual([basket.status, basket.submission], ['open', null]);
    assert.equal(await deliveries(answer.id), 0);
    assert.equal(await handled(intentEvent('payment_failed', pi)), false, 'duplicate');
    assert.equal(await handled(intentEvent('canceled', pi)), false, 'the cancellation it caused');

    const retry = await submit(t, token, basketId);
    assert.equal(retry.status, 200, retry.raw);
    assert.equal(retry.body.status, 'pending');
    assert.notEqual(retry.body.id, answer.id);
    assert.notEqual((retry.body as Any).payment.paymentIntentId, pi.id);
  });

  it('Stripe unreachable while a failure is handled: 502 and nothing changed; the redelivery fails the order', async () => {
    const { basketId, answer, pi } = await pendingOrder();
    standIn.failNext = 10;
    let res;
    try {
      res = await webhook(intentEvent('payment_failed', pi));
    } finally {
      standIn.failNext = 0;
    }
    assert.equal(res.statusCode, 502, res.body);
    assert.equal((await storedOrder(answer.id)).status, 'pending');
    assert.equal((await storedBasket(basketId)).status, 'submitting');
    assert.equal(await handled(intentEvent('payment_failed', pi)), true);
    assert.equal((await storedOrder(answer.id)).status, 'failed');
    assert.equal((await storedBasket(basketId)).status, 'open');
  });

  it('payment_intent.canceled fails the order and reopens the basket', async () => {
    const { basketId, answer, pi } = await pendingOrder();
    pi.status = 'canceled'; // cancelled at Stripe (dashboard)
    assert.equal(await handled(intentEvent('canceled', pi)), true);
    assert.equal((await storedOrder(answer.id)).status, 'failed');
    assert.equal((await storedBasket(basketId)).status, 'open');
  });

  it('a failure reported for a payment that succeeded since (the customer retried): the order completes', async () => {
    const { basketId, answer, pi } = await pendingOrder();
    const failedEvent = intentEvent('payment_failed', pi);
    pi.status = 'succeeded'; // the retry with another card went through before the failure's webhook came
    assert.equal(await handled(failedEvent), true);
    assert.equal((await storedOrder(answer.id)).status, 'completed');
    assert.equal((await storedBasket(basketId)).status, 'completed');
    assert.equal(await deliveries(answer.id), 1);
  });

  it('a success whose amount is not the order\'s completes nothing; another partner\'s secret is refused', async () => {
    const { basketId, answer, pi } = await pendingOrder();
    assert.equal(await handled(intentEvent('succeeded', { ...pi, amount: 1 })), false);
    assert.equal((await storedOrder(answer.id)).status, 'pending');
    assert.equal((await storedBasket(basketId)).status, 'submitting');
    const payload = JSON.stringify(intentEvent('succeeded', pi));
    const forged = await t.server.app.inject({
      method: 'POST',
      url: '/psp/stripe/webhook',
      headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(payload, 'whsec_someone_else', Math.floor(t.clock.now / 1000)) },
      payload,
    });
    assert.equal(forged.statusCode, 400);
    assert.equal((await storedOrder(answer.id)).status, 'pending');
  });

  it('a payment never made: at its deadline (PAYMENT_TTL) the intent is cancelled, the order failed, the basket open', async () => {
    const { basketId, answer, pi } = await pendingOrder();
    const paid = await pendingOrder();
    paid.pi.status = 'succeeded';
    assert.equal(await handled(intentEvent('succeeded', paid.pi)), true);
    // one deadline per order awaiting its payment, due PAYMENT_TTL (24 h by default) after the submit
    const dueBy = async (at: number): Promise<string[]> => {
      const claimed = await t.server.store.claim({ now: at, limit: 500, leaseMs: 60_000, owner: 'look', topics: [TOPIC_SHOP_PAYMENT_DEADLINE] });
      for (const m of claimed) await t.server.store.retry(m.id, 'look', t.clock.now + DAY, 'looked at');
      return claimed.map((m) => (m.payload as { orderId: string }).orderId).filter((id) => [answer.id, paid.answer.id].includes(id));
    };
    assert.deepEqual(await dueBy(t.clock.now + DAY - 1), []);
    assert.deepEqual((await dueBy(t.clock.now + DAY)).sort(), [answer.id, paid.answer.id].sort());

    t.clock.now += DAY - 1;
    try {
      while ((await t.server.outbox.runOnce()) > 0);
      assert.equal((await storedOrder(answer.id)).status, 'pending', 'not before its deadline');
      t.clock.now += 1;
      while ((await t.server.outbox.runOnce()) > 0);
    } finally {
      t.clock.now -= DAY;
    }
    assert.equal(pi.status, 'canceled', 'the payment can no longer succeed');
    assert.equal((await storedOrder(answer.id)).status, 'failed');
    const basket = await storedBasket(basketId);
    assert.deepEqual([basket.status, basket.submission], ['open', null]);
    assert.equal((await storedOrder(paid.answer.id)).status, 'completed', 'a paid order is left as it is');
    assert.equal(standIn.requests.some((r) => r.path.startsWith(`/v1/payment_intents/${paid.pi.id}/cancel`)), false, 'nor its payment');
  });
});

describe('subscription upgrades paid with Stripe', () => {
  async function subscriptionFor(id: string): Promise<Subscription> {
    const now = t.clock.now;
    const s: Subscription = {
      id,
      partnerId: PARTNER,
      name: `NAME-${id}`,
      customer: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' },
      offer: { id: 'basic-monthly', version: 'v1' },
      addOns: [],
      termStart: now - 15 * DAY,
      termEnd: now + 15 * DAY,
      pendingChange: null,
    };
    await t.server.store.shop.putSubscriptions(PARTNER, [s]);
    return s;
  }

  /** Starts and chooses the upgrade to premium, submits it: answered pending. */
  async function pendingUpgrade(subscriptionId: string): Promise<{ basketId: string; answer: Any; pi: Any }> {
    const headers = { 'x-limio-recaptcha': 'ok-token' };
    const started = await shopCall<Any>(t, 'POST', '/api/checkout/subscription', {
      token,
      headers,
      body: { order: { order_type: 'update_subscription', forSubscription: { id: subscriptionId } } },
    });
    assert.equal(started.status, 200, started.raw);
    const basketId = started.body.order.checkoutId as string;
    const cookie = String(started.headers['set-cookie']).split(';')[0]!;
    const chosen = await shopCall<Any>(t, 'PUT', '/api/checkout/subscription', {
      token,
      headers,
      cookie,
      body: { orderItems: [{ orderItemActionType: 'add', offer: { id: 'premium-monthly', version: 'v1' }, type: 'offer', quantity: 1 }] },
    });
    assert.equal(chosen.status, 200, chosen.raw);
    const res = await submit(t, token, basketId);
    assert.equal(res.status, 200, res.raw);
    const answer = res.body as Any;
    assert.equal(answer.status, 'pending');
    assert.equal(answer.subscriptionReference, subscriptionId);
    const pi = standIn.intents.get(answer.payment.paymentIntentId);
    assert.ok(pi, 'a PaymentIntent at the stand-in');
    return { basketId, answer, pi };
  }

  it('the upgrade is applied when the payment succeeds, not before; once', async () => {
    const s = await subscriptionFor('sub-up');
    const { basketId, answer, pi } = await pendingUpgrade(s.id);
    assert.equal(pi.amount, 400, 'half a term of the difference (17.99 - 9.99)');
    assert.deepEqual((await t.server.store.shop.getSubscription(PARTNER, s.id))!.offer, s.offer, 'unchanged while unpaid');
    assert.equal((await storedBasket(basketId)).status, 'submitting');

    assert.equal(await handled(intentEvent('succeeded', pi)), true);
    const upgraded = (await t.server.store.shop.getSubscription(PARTNER, s.id))!;
    assert.deepEqual(upgraded.offer, { id: 'premium-monthly', version: 'v1' });
    assert.equal((await storedOrder(answer.id)).status, 'completed');
    assert.equal((await storedBasket(basketId)).status, 'completed');
    assert.equal(await deliveries(answer.id), 1);
    assert.equal(await handled(intentEvent('succeeded', pi)), false);
    assert.deepEqual(await t.server.store.shop.getSubscription(PARTNER, s.id), upgraded);
  });

  it('a failed payment leaves the subscription as it was and the change open for another submit', async () => {
    const s = await subscriptionFor('sub-fail');
    const { basketId, answer, pi } = await pendingUpgrade(s.id);
    assert.equal(await handled(intentEvent('payment_failed', pi)), true);
    assert.equal((await storedOrder(answer.id)).status, 'failed');
    assert.equal((await storedBasket(basketId)).status, 'open');
    assert.deepEqual((await t.server.store.shop.getSubscription(PARTNER, s.id))!.offer, s.offer);
    const retry = await submit(t, token, basketId);
    assert.equal(retry.status, 200, retry.raw);
    assert.equal(retry.body.status, 'pending');
    assert.notEqual(retry.body.id, answer.id);
  });
});
