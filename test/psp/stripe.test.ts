/**
 * The Stripe adapter against a local stand-in for Stripe's API (127.0.0.1, no network), and the webhook with
 * real signed payloads (stripe.webhooks.generateTestHeaderString).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { BasketError } from '../../src/domain/errors.js';
import { KNOWN_PSPS, PspRegistry } from '../../src/psp/psp.js';
import { SandboxPsp } from '../../src/psp/sandbox.js';
import { StripePsp } from '../../src/psp/stripe.js';
import { StripeStandIn } from '../helpers/stripe-stand-in.js';
import { sign, startTestServer, TEST_PARTNERS, userHeaders, type EnvelopeBody, type TestServer } from '../http/harness.js';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const WHSEC = 'whsec_test_secret_0123456789';
const SHOP_KEY = 'shop-api-key-0001';
const SHOP_SECRET = new TextEncoder().encode('shop-partner-secret-0123456789');

const standIn = new StripeStandIn();
let t: TestServer;

before(async () => {
  const base = await standIn.listen();
  t = await startTestServer({
    STRIPE_API_BASE: base,
    PARTNERS_JSON: JSON.stringify([
      ...TEST_PARTNERS,
      {
        id: 'shop',
        apiKeys: [SHOP_KEY],
        jwt: { secret: 'shop-partner-secret-0123456789' },
        psps: ['stripe'],
        stripe: { secretKey: 'sk_test_standin', publishableKey: 'pk_test_standin', webhookSecret: WHSEC },
      },
    ]),
  });
  for (const partner of ['shop']) {
    await t.server.store.upsertProducts(partner, [
      { productId: 'tee', variant: null, mainProductIdentifier: null, name: 'Tee', brand: null, price: 2500, currency: 'EUR', taxRateBp: 1900, stock: 50, shopSource: null, slug: null, images: [] },
    ]);
  }
});
after(async () => {
  await t.close();
  await standIn.close();
});

async function token(secret: Uint8Array, user: string): Promise<string> {
  const now = Math.floor(t.clock.now / 1000);
  return sign(secret, 'HS256', {}, { sub: user, iat: now, exp: now + 3600 });
}

async function call(apiKey: string, secret: Uint8Array, method: 'GET' | 'POST' | 'PATCH', url: string, user: string, body?: unknown) {
  const res = await t.server.app.inject({
    method,
    url,
    headers: userHeaders(apiKey, await token(secret, user), body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<Any> };
}
const shop = (method: 'GET' | 'POST' | 'PATCH', url: string, user: string, body?: unknown) => call(SHOP_KEY, SHOP_SECRET, method, url, user, body);

async function startShop(user: string, body: unknown = { stripeUsingSdk: true }, query = '') {
  assert.equal((await shop('POST', `/v2/baskets/users/${user}/products/tee`, user, { count: 2 })).status, 200);
  return shop('POST', `/v2/baskets/users/${user}/checkout/sessions${query}`, user, body);
}

function webhook(event: unknown, opts: { secret?: string; timestamp?: number; tamper?: boolean } = {}) {
  const payload = JSON.stringify(event);
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? WHSEC, timestamp: opts.timestamp ?? Math.floor(t.clock.now / 1000) });
  return t.server.app.inject({
    method: 'POST',
    url: '/psp/stripe/webhook',
    headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': header },
    payload: opts.tamper ? payload.replace('"amount":', '"amount": ') : payload,
  });
}

function succeeded(pi: Any, id = `evt_${pi.id}`) {
  return { id, object: 'event', type: 'payment_intent.succeeded', data: { object: { ...pi, status: 'succeeded', amount_received: pi.amount } } };
}

/** Runs the outbox until nothing is due; messages of the topics in `keep` are given back unhandled. */
async function drainOutbox(opts: { keep?: string[] } = {}): Promise<void> {
  const keep = opts.keep ?? [];
  const kept: string[] = [];
  for (let pass = 0; pass < 20; pass++) {
    if (keep.length > 0) {
      const claimed = await t.server.store.claim({ now: t.clock.now, limit: 100, leaseMs: 3_600_000, owner: 'keep', topics: keep });
      kept.push(...claimed.map((m) => m.id));
    }
    if ((await t.server.outbox.runOnce()) === 0) break;
  }
  for (const id of kept) await t.server.store.retry(id, 'keep', t.clock.now, 'kept for the test');
}

describe('Stripe PaymentIntents', () => {
  it('creates a PaymentIntent with amount, currency, metadata, idempotency key; SDK fields returned', async () => {
    const r = await startShop('u1');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const d = r.body.data;
    assert.equal(d.paymentProvider, 'stripe');
    assert.equal(d.testMode, true);
    assert.match(d.payment.paymentIntentId, /^pi_test_/);
    assert.equal(d.payment.clientSecret, `${d.payment.paymentIntentId}_secret_abc`);
    assert.equal(d.payment.publishableKey, 'pk_test_standin');
    const req = standIn.requests.findLast((q) => q.method === 'POST' && q.path === '/v1/payment_intents')!;
    assert.equal(req.form.get('amount'), '5000');
    assert.equal(req.form.get('currency'), 'eur');
    assert.equal(req.form.get('metadata[orderNo]'), d.orderNo);
    assert.equal(req.form.get('metadata[partnerId]'), 'shop');
    assert.equal(req.form.get('metadata[userId]'), 'u1');
    assert.equal(req.auth, 'Bearer sk_test_standin');
    assert.equal(req.idempotencyKey, `basket-pi-shop-${d.orderNo}`);
    const order = await t.server.store.getOrderByPaymentRef('stripe', d.payment.paymentIntentId);
    assert.equal(order?.orderNo, d.orderNo);
  });

  it('ordered=true alone never marks the order paid; the signed webhook does, once', async () => {
    const r = await startShop('u2');
    const { orderNo } = r.body.data;
    const piId = r.body.data.payment.paymentIntentId as string;
    const f = await shop('POST', '/v2/baskets/users/u2/checkout/sessions/finish-active', 'u2', { ordered: true });
    assert.equal(f.status, 200);
    assert.equal((await t.server.store.getOrder('shop', orderNo))?.status, 'pending_payment');
    const pi = standIn.intents.get(piId)!;
    const w = await webhook(succeeded(pi));
    assert.equal(w.statusCode, 200, w.body);
    assert.equal((await t.server.store.getOrder('shop', orderNo))?.status, 'paid');
    const dup = await webhook(succeeded(pi));
    assert.equal(dup.statusCode, 200);
    assert.equal((await t.server.store.getOrder('shop', orderNo))?.status, 'paid');
    const claimed = await t.server.store.claim({ now: t.clock.now, limit: 50, leaseMs: 1000, owner: 'test', topics: ['order.process'] });
    assert.equal(claimed.filter((m) => (m.payload as Any).orderNo === orderNo && (m.payload as Any).event === 'paid').length, 1);
    for (const m of claimed) await t.server.store.retry(m.id, 'test', t.clock.now, 'given back');
  });

  it('a payment confirmed before finish ends the session as ordered (stock committed)', async () => {
    const r = await startShop('u3');
    const pi = standIn.intents.get(r.body.data.payment.paymentIntentId)!;
    const before = (await t.server.store.getProducts('shop', ['tee'])).get('tee')!;
    assert.equal((await webhook(succeeded(pi))).statusCode, 200);
    const b = await shop('GET', '/v2/baskets/users/u3', 'u3');
    assert.deepEqual(b.body.data.checkout, []);
    const after = (await t.server.store.getProducts('shop', ['tee'])).get('tee')!;
    assert.deepEqual([after.stock, after.reserved], [before.stock! - 2, before.reserved - 2]);
    // the app's own finish afterwards is harmless
    assert.equal((await shop('POST', '/v2/baskets/users/u3/checkout/sessions/finish-active', 'u3', { ordered: true })).status, 200);
  });

  it('refuses tampered, foreign-secret and replayed (old) webhooks', async () => {
    const r = await startShop('u4');
    const pi = standIn.intents.get(r.body.data.payment.paymentIntentId)!;
    const tampered = await webhook(succeeded(pi), { tamper: true });
    assert.equal(tampered.statusCode, 400);
    assert.equal(tampered.json().error.details, 'SIGNATURE_INVALID');
    assert.equal((await webhook(succeeded(pi), { secret: 'whsec_other' })).statusCode, 400);
    const old = await webhook(succeeded(pi), { timestamp: Math.floor(t.clock.now / 1000) - 301 });
    assert.equal(old.statusCode, 400);
    const unsigned = await t.server.app.inject({ method: 'POST', url: '/psp/stripe/webhook', headers: { 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(unsigned.statusCode, 400);
    assert.equal((await t.server.store.getOrder('shop', r.body.data.orderNo))?.status, 'pending_payment');
    // an amount that is not the order's is not accepted as payment
    const wrong = await webhook(succeeded({ ...pi, amount: 1 }, 'evt_wrong'));
    assert.equal(wrong.statusCode, 200);
    assert.equal((await t.server.store.getOrder('shop', r.body.data.orderNo))?.status, 'pending_payment');
  });

  it('abort cancels the PaymentIntent; abort after the payment succeeded keeps the order', async () => {
    const r = await startShop('u5');
    const piId = r.body.data.payment.paymentIntentId as string;
    const f = await shop('POST', '/v2/baskets/users/u5/checkout/sessions/finish-active', 'u5', { ordered: false });
    assert.equal(f.status, 200);
    assert.equal(standIn.intents.get(piId)!.status, 'canceled');
    assert.equal((await t.server.store.getOrder('shop', r.body.data.orderNo))?.status, 'cancelled');

    const r2 = await shop('POST', '/v2/baskets/users/u5/checkout/sessions', 'u5', { stripeUsingSdk: true });
    assert.equal(r2.status, 200);
    standIn.intents.get(r2.body.data.payment.paymentIntentId)!.status = 'succeeded'; // paid, webhook not yet arrived
    const f2 = await shop('POST', '/v2/baskets/users/u5/checkout/sessions/finish-active', 'u5', { ordered: false });
    assert.equal(f2.status, 409);
    assert.equal(f2.body.error?.code, 2015);
    assert.equal((await t.server.store.getOrder('shop', r2.body.data.orderNo))?.status, 'paid');
    assert.deepEqual((await shop('GET', '/v2/baskets/users/u5', 'u5')).body.data.checkout, []);
  });

  it('one-click comfort: saved customer and method, confirmed off-session', async () => {
    assert.equal((await shop('PATCH', '/v2/baskets/users/u6/comfort', 'u6', { customerId: 'cus_9', paymentMethodId: 'pm_9', oneClick: true })).status, 200);
    const r = await startShop('u6', {});
    assert.equal(r.status, 200);
    const req = standIn.requests.findLast((q) => q.method === 'POST' && q.path === '/v1/payment_intents')!;
    assert.equal(req.form.get('customer'), 'cus_9');
    assert.equal(req.form.get('payment_method'), 'pm_9');
    assert.equal(req.form.get('confirm'), 'true');
    assert.equal(req.form.get('off_session'), 'true');
    assert.equal(r.body.data.payment.clientSecret, undefined, 'no SDK: no client secret');
    assert.equal(r.body.data.payment.status, 'succeeded');
  });

  it('Stripe failing: 502 2022 and nothing stays reserved; testMode against a test key: 422', async () => {
    standIn.failNext = 5;
    const before = (await t.server.store.getProducts('shop', ['tee'])).get('tee')!;
    const r = await startShop('u7');
    standIn.failNext = 0;
    assert.equal(r.status, 502);
    assert.equal(r.body.error?.code, 2022);
    const after = (await t.server.store.getProducts('shop', ['tee'])).get('tee')!;
    assert.equal(after.reserved, before.reserved);
    assert.deepEqual((await shop('GET', '/v2/baskets/users/u7', 'u7')).body.data.checkout, []);
    const live = await shop('POST', '/v2/baskets/users/u7/checkout/sessions?testMode=false', 'u7', {});
    assert.equal(live.status, 422);
    assert.equal(live.body.error?.code, 3002);
  });

  it('an order ordered but never paid: at PAYMENT_TTL its payment is cancelled and its stock returned', async () => {
    // the earlier tests' sessions and orders first: their expiries and deadlines would move the same stock
    t.clock.now += 25 * 3_600_000;
    await drainOutbox();
    const stock = async () => (await t.server.store.getProducts('shop', ['tee'])).get('tee')!;
    const before = await stock();
    const r = await startShop('d1');
    const { orderNo } = r.body.data;
    const piId = r.body.data.payment.paymentIntentId as string;
    assert.equal((await shop('POST', '/v2/baskets/users/d1/checkout/sessions/finish-active', 'd1', { ordered: true })).status, 200);
    assert.deepEqual([(await stock()).stock, (await stock()).reserved], [before.stock! - 2, before.reserved], 'committed at finish');

    t.clock.now += 24 * 3_600_000 - 60_000; // a minute before the deadline: nothing happens to it
    await drainOutbox();
    assert.equal((await t.server.store.getOrder('shop', orderNo))?.status, 'pending_payment');
    assert.equal(standIn.intents.get(piId)!.status, 'requires_payment_method');

    standIn.failNext = 5; // Stripe unreachable at the deadline: the message is retried, nothing changes meanwhile
    t.clock.now += 60_000;
    await drainOutbox();
    standIn.failNext = 0;
    assert.equal((await t.server.store.getOrder('shop', orderNo))?.status, 'pending_payment');
    assert.equal((await stock()).stock, before.stock! - 2);

    t.clock.now += 10_000; // the retry's backoff (5 s)
    await drainOutbox();
    assert.equal(standIn.intents.get(piId)!.status, 'canceled');
    assert.equal((await t.server.store.getOrder('shop', orderNo))?.status, 'cancelled');
    assert.deepEqual([(await stock()).stock, (await stock()).reserved], [before.stock, before.reserved], 'the units are back');
    assert.equal(await t.server.store.getReservationState('shop', (await t.server.store.getOrder('shop', orderNo))!.sessionId), 'returned');
    // the paid webhook cannot come any more; a duplicate deadline changes nothing
    assert.equal((await t.server.checkout.paymentDeadline({ partnerId: 'shop', orderNo }))?.status, 'cancelled');
    assert.equal((await stock()).stock, before.stock);
    // a late expiry of its session (PAYMENT_TTL may be shorter than CHECKOUT_TTL) finds it ended
    const sessionId = (await t.server.store.getOrder('shop', orderNo))!.sessionId;
    await t.server.checkout.expire({ partnerId: 'shop', userId: 'd1', guest: false, sessionId, orderNo });
    assert.equal(await t.server.store.getReservationState('shop', sessionId), 'returned');
    assert.equal((await t.server.store.getOrder('shop', orderNo))?.status, 'cancelled');
    assert.deepEqual([(await stock()).stock, (await stock()).reserved], [before.stock, before.reserved]);
  });

  it('a deadline that finds the payment succeeded (its webhook lost) makes the order paid and keeps the stock', async () => {
    const stock = async () => (await t.server.store.getProducts('shop', ['tee'])).get('tee')!.stock;
    const before = await stock();
    const r = await startShop('d2');
    const { orderNo } = r.body.data;
    assert.equal((await shop('POST', '/v2/baskets/users/d2/checkout/sessions/finish-active', 'd2', { ordered: true })).status, 200);
    standIn.intents.get(r.body.data.payment.paymentIntentId)!.status = 'succeeded';
    t.clock.now += 24 * 3_600_000;
    await drainOutbox({ keep: ['order.process'] });
    assert.equal((await t.server.store.getOrder('shop', orderNo))?.status, 'paid');
    assert.equal(await stock(), before! - 2);
    const claimed = await t.server.store.claim({ now: t.clock.now, limit: 50, leaseMs: 1000, owner: 'test', topics: ['order.process'] });
    assert.equal(claimed.filter((m) => (m.payload as Any).orderNo === orderNo && (m.payload as Any).event === 'paid').length, 1);
    for (const m of claimed) await t.server.store.complete(m.id, 'test');
  });

  it('payment_intent.canceled gives up an ordered order at once, and leaves one still in its session alone', async () => {
    const stock = async () => (await t.server.store.getProducts('shop', ['tee'])).get('tee')!.stock;
    const before = await stock();
    const r = await startShop('d3');
    const pi = standIn.intents.get(r.body.data.payment.paymentIntentId)!;
    // still in its session: the session's own end decides
    const early = await webhook({ id: `evt_c_${pi.id}`, object: 'event', type: 'payment_intent.canceled', data: { object: { ...pi, status: 'canceled' } } });
    assert.equal(early.statusCode, 200);
    assert.equal(early.json().data.handled, false);
    assert.equal((await t.server.store.getOrder('shop', r.body.data.orderNo))?.status, 'pending_payment');
    assert.equal((await shop('GET', '/v2/baskets/users/d3', 'd3')).body.data.checkout.length, 1);
    // nor does a deadline (never queued for an open session) touch it
    assert.equal((await t.server.checkout.paymentDeadline({ partnerId: 'shop', orderNo: r.body.data.orderNo }))?.status, 'pending_payment');
    assert.equal(pi.status, 'requires_payment_method');

    assert.equal((await shop('POST', '/v2/baskets/users/d3/checkout/sessions/finish-active', 'd3', { ordered: true })).status, 200);
    assert.equal(await stock(), before! - 2);
    pi.status = 'canceled';
    const w = await webhook({ id: `evt_c2_${pi.id}`, object: 'event', type: 'payment_intent.canceled', data: { object: { ...pi } } });
    assert.equal(w.statusCode, 200);
    assert.equal(w.json().data.handled, true);
    assert.equal((await t.server.store.getOrder('shop', r.body.data.orderNo))?.status, 'cancelled');
    assert.equal(await stock(), before);
    const dup = await webhook({ id: `evt_c2_${pi.id}`, object: 'event', type: 'payment_intent.canceled', data: { object: { ...pi } } });
    assert.equal(dup.json().data.handled, false);
    assert.equal(await stock(), before);
  });

  it('a PSP the partner cannot use: 422 2001 (the start refuses such partners; the registry still checks)', () => {
    // unknown providers and Stripe without keys stop the start (test/config.test.ts); a partner object that
    // bypassed the config (tests, a future provider without keys) is still refused with 2001
    const registry = new PspRegistry([new SandboxPsp(), new StripePsp()]);
    const base = { id: 'x', apiKeys: ['x-api-key-0001'], jwt: { secret: 'x-partner-secret-0123456789' } };
    for (const partner of [{ ...base, psps: ['adyen'] }, { ...base, psps: ['stripe'] }]) {
      assert.throws(
        () => registry.forPartner(partner),
        (err: unknown) => err instanceof BasketError && err.kind === 'PAYMENT_PROVIDER_NOT_SUPPORTED',
        partner.psps[0],
      );
    }
    assert.equal(registry.forPartner(base).name, 'sandbox', 'no psps: the sandbox');
    // the names the start accepts are the providers the server has
    assert.deepEqual([new SandboxPsp().name, new StripePsp().name], [...KNOWN_PSPS]);
  });
});
