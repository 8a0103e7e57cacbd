/**
 * Subscription changes through the real server (shop-api.md §3.4–§3.7): start, read, choose, submit through
 * POST /api/order, the pending-change lock, the worker applying a due change, concurrent submissions, and random
 * input (never a 5xx). On the development partner with its demo offers; subscriptions loaded by the admin API.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEV_SHOP_CLIENT } from '../../src/config.js';
import { adminRequest } from './admin-request.js';
import { startTestServer, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t?.close());

/** An access token of the development shop client, fetched again once the test clock has moved past its hour. */
let token = { value: '', at: -Infinity };
async function accessToken(): Promise<string> {
  if (t.clock.now - token.at < 30 * 60_000) return token.value;
  const res = await t.server.app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id, client_secret: DEV_SHOP_CLIENT.secret }).toString(),
  });
  assert.equal(res.statusCode, 200, res.body);
  token = { value: (res.json() as { access_token: string }).access_token, at: t.clock.now };
  return token.value;
}

const DAY = 86_400_000;
type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Res = { status: number; body: Body; headers: Record<string, unknown> };

async function shop(method: 'GET' | 'POST' | 'PUT', url: string, opts: { body?: unknown; cookie?: string | null; recaptcha?: string | null; raw?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = { authorization: `Bearer ${await accessToken()}` };
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.recaptcha !== null && method !== 'GET') headers['x-limio-recaptcha'] = opts.recaptcha ?? 'ok-token';
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const res = await t.server.app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? (res.json() as Body) : {}, headers: res.headers };
}

/** The `limio_state` cookie of a start's answer, as a browser would send it back. */
function cookieOf(r: Res): string {
  const set = String(r.headers['set-cookie']);
  assert.match(set, /^limio_state=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=None$/);
  return set.split(';')[0]!;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A subscription of the demo partner, its term [now − 15 days, now + 15 days] (half of it left). */
async function loadSubscription(id: string, offer: string, addOns: string[] = [], extra: Record<string, unknown> = {}): Promise<void> {
  const now = t.clock.now;
  const body = {
    name: `NAME-${id}`,
    customer: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' },
    offer: { id: offer, version: 'v1' },
    addOns: addOns.map((a) => ({ id: a, version: 'v1' })),
    termStart: iso(now - 15 * DAY),
    termEnd: iso(now + 15 * DAY),
    pendingChange: null,
    ...extra,
  };
  const r = await adminRequest(t, 'PUT', `/admin/subscriptions/${id}?partner=demo`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function subscription(id: string): Promise<Body> {
  const r = await adminRequest<Body>(t, 'GET', `/admin/subscriptions/${id}?partner=demo`);
  assert.equal(r.status, 200);
  return r.body.data;
}

const start = (forSubscription: unknown, recaptcha: string | null = 'ok-token') =>
  shop('POST', '/api/checkout/subscription', { body: { order: { order_type: 'update_subscription', forSubscription } }, recaptcha });
const add = (id: string, type: 'offer' | 'add_on' = 'offer') => ({ orderItemActionType: 'add', offer: { id, version: 'v1' }, type, quantity: 1 });
const choose = (cookie: string, orderItems: unknown[]) => shop('PUT', '/api/checkout/subscription', { body: { orderItems }, cookie });
const submit = (checkoutId: string) => shop('POST', '/api/order', { body: { checkoutId } });

function expectMessage(r: Res, status: number, message: string | RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  if (typeof message === 'string') assert.equal(r.body.message, message);
  else assert.match(String(r.body.message), message);
}

describe('starting a subscription change (POST)', () => {
  before(() => loadSubscription('sub-start', 'streaming-basic-monthly', ['addon-sports']));

  it('creates an update_subscription basket, sets the landing state, proposes the newest offers', async () => {
    const r = await start({ id: 'sub-start' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    cookieOf(r);
    const { order, forSubscriptionOffer, nextActions, completed } = r.body;
    assert.match(order.checkoutId, /^basket-[0-9a-f-]{36}$/);
    assert.equal(order.order_type, 'update_subscription');
    assert.deepEqual(order.forSubscription, { id: 'sub-start', name: 'NAME-sub-start' });
    assert.deepEqual(order.orderItems, []);
    assert.equal(order.effectiveDate, null);
    assert.equal(order.proration, null);
    assert.equal(completed, false);
    assert.equal(forSubscriptionOffer.id, 'streaming-basic-monthly');
    assert.equal(forSubscriptionOffer.price, 9.99);
    assert.deepEqual(nextActions.upgrades.map((o: Body) => o.id), ['streaming-premium-monthly', 'streaming-premium-annual']);
    assert.equal(nextActions.upgrades[0].price, 17.99, 'full offer objects');
    assert.deepEqual(nextActions.downgrades, []);
    assert.deepEqual(nextActions.crossSells.map((o: Body) => o.id), ['addon-sports']);
    assert.deepEqual(nextActions.subscriptionAddOns.map((o: Body) => [o.id, o.version]), [['addon-sports', 'v1']]);
  });

  it('by name too', async () => {
    const r = await start({ name: 'NAME-sub-start' });
    assert.equal(r.status, 200);
    assert.equal(r.body.order.forSubscription.id, 'sub-start');
  });

  it('404 for an unknown subscription; 400 for a bad body or reCAPTCHA; 401 without a token', async () => {
    expectMessage(await start({ id: 'nope' }), 404, 'Subscription not found');
    expectMessage(await start({ name: 'nope' }), 404, 'Subscription not found');
    for (const body of [{}, { order: { order_type: 'new', forSubscription: { id: 'sub-start' } } }, { order: { order_type: 'update_subscription', forSubscription: { id: 'a', name: 'b' } } }, { order: { order_type: 'update_subscription', forSubscription: {} } }]) {
      const r = await shop('POST', '/api/checkout/subscription', { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(r.body), ['message']);
    }
    expectMessage(await shop('POST', '/api/checkout/subscription', { raw: '{"order":' }), 400, /JSON/);
    expectMessage(await start({ id: 'sub-start' }, null), 400, /x-limio-recaptcha/);
    expectMessage(await start({ id: 'sub-start' }, 'invalid'), 400, /reCAPTCHA/);
    const anonymous = await t.server.app.inject({ method: 'POST', url: '/api/checkout/subscription', headers: { 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(anonymous.statusCode, 401);
  });
});

describe('reading and choosing (GET, PUT)', () => {
  before(() => loadSubscription('sub-choose', 'streaming-basic-monthly', ['addon-sports']));

  it('GET answers the change of the landing state; 404 without one', async () => {
    const s = await start({ id: 'sub-choose' });
    const r = await shop('GET', '/api/checkout/subscription', { cookie: cookieOf(s) });
    assert.equal(r.status, 200);
    assert.equal(r.body.order.checkoutId, s.body.order.checkoutId);
    assert.equal(r.body.completed, false);
    expectMessage(await shop('GET', '/api/checkout/subscription'), 404, 'No basket found in landing state');
    expectMessage(await shop('GET', '/api/checkout/subscription', { cookie: 'limio_state=basket-00000000-0000-4000-8000-000000000000' }), 404, 'No basket found in landing state');
    expectMessage(await shop('GET', '/api/checkout/subscription', { cookie: 'limio_state=%E0%A4%A' }), 404, 'No basket found in landing state');
  });

  it('GET of a new-order basket is not a subscription change', async () => {
    const initiated = await shop('POST', '/api/checkout/initiate', {
      body: { order: { order_type: 'new', orderItems: [{ offer: { id: 'offer-mug-1', version: 'v1' }, quantity: 1, type: 'offer' }] } },
    });
    assert.equal(initiated.status, 200, JSON.stringify(initiated.body));
    expectMessage(await shop('GET', '/api/checkout/subscription', { cookie: cookieOf(initiated) }), 404, 'No basket found in landing state');
  });

  it('PUT: an upgrade is effective now and prorated; the current offer is removed', async () => {
    const cookie = cookieOf(await start({ id: 'sub-choose' }));
    const r = await choose(cookie, [add('streaming-premium-monthly')]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // (17.99 − 9.99) a month, half of the month left: 4.00
    assert.deepEqual(r.body.order.proration, { amount: 4, currency: 'EUR' });
    assert.equal(r.body.order.effectiveDate, iso(t.clock.now));
    assert.deepEqual(
      r.body.order.orderItems.map((i: Body) => [i.orderItemActionType, i.type, i.offer.id, i.price.amount]),
      [['remove', 'offer', 'streaming-basic-monthly', 9.99], ['add', 'offer', 'streaming-premium-monthly', 17.99]],
    );
    // the annual offer instead (179.90 a year: 14.99166 a month) with the extra screen (2.99 a month), sports kept:
    // 14.99166 + 2.99 − 9.99 = 7.99166 more a month, half of it left: 3.9958 → 4.00
    const annual = await choose(cookie, [add('streaming-premium-annual'), add('addon-extra-screen', 'add_on')]);
    assert.equal(annual.status, 200, JSON.stringify(annual.body));
    assert.deepEqual(annual.body.order.proration, { amount: 4, currency: 'EUR' });
    assert.deepEqual(annual.body.order.orderItems.at(-1), {
      orderItemActionType: 'add', type: 'add_on', offer: { id: 'addon-extra-screen', version: 'v1' }, quantity: 1, parentId: 'streaming-premium-annual', name: 'Extra screen', price: { amount: 2.99, currency: 'EUR' },
    });
    const read = await shop('GET', '/api/checkout/subscription', { cookie });
    assert.deepEqual(read.body.order.orderItems, annual.body.order.orderItems);
  });

  it('PUT refuses two offer adds, offers that are not an upgrade or downgrade, and add-ons not cross-sold', async () => {
    const cookie = cookieOf(await start({ id: 'sub-choose' }));
    expectMessage(await choose(cookie, [add('streaming-premium-monthly'), add('streaming-premium-annual')]), 400, 'Invalid request or multiple add offers provided');
    expectMessage(await choose(cookie, []), 400, 'Invalid request or multiple add offers provided');
    expectMessage(await choose(cookie, [add('offer-mug-1')]), 400, /neither an upgrade nor a downgrade/);
    expectMessage(await choose(cookie, [add('addon-extra-screen', 'add_on')]), 400, /not a cross-sell/);
    expectMessage(await choose(cookie, [{ ...add('streaming-premium-monthly'), offer: { id: 'streaming-premium-monthly', version: 'v9' } }]), 400, /not found/);
    expectMessage(await choose(cookie, [{ ...add('streaming-premium-monthly'), quantity: 2 }]), 400, /must be 1/);
    expectMessage(await choose('limio_state=nothing', [add('streaming-premium-monthly')]), 404, 'Basket not found in landing state');
    expectMessage(await shop('PUT', '/api/checkout/subscription', { body: { orderItems: [add('streaming-premium-monthly')] } }), 404, 'Basket not found in landing state');
    const noCaptcha = await shop('PUT', '/api/checkout/subscription', { body: { orderItems: [add('streaming-premium-monthly')] }, cookie, recaptcha: null });
    expectMessage(noCaptcha, 400, /x-limio-recaptcha/);
  });
});

describe('submitting (POST /api/order) and the pending change', () => {
  it('an upgrade changes the subscription now, once, however often it is submitted', async () => {
    await loadSubscription('sub-up', 'streaming-basic-monthly', ['addon-sports']);
    const s = await start({ id: 'sub-up' });
    const cookie = cookieOf(s);
    assert.equal((await choose(cookie, [add('streaming-premium-monthly')])).status, 200);
    const [a, b] = await Promise.all([submit(s.body.order.checkoutId), submit(s.body.order.checkoutId)]);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(a.body.id, b.body.id, 'one order per basket');
    assert.equal(a.body.status, 'completed');
    assert.equal(a.body.subscriptionReference, 'sub-up');
    const again = await submit(s.body.order.checkoutId);
    assert.equal(again.body.id, a.body.id);
    const after = await subscription('sub-up');
    assert.deepEqual(after.offer, { id: 'streaming-premium-monthly', version: 'v1' });
    assert.deepEqual(after.addOns, [{ id: 'addon-sports', version: 'v1' }]);
    assert.equal(after.pendingChange, null);
    const read = await shop('GET', '/api/checkout/subscription', { cookie });
    assert.equal(read.body.completed, true);
    assert.deepEqual(read.body.order.proration, { amount: 4, currency: 'EUR' });
    expectMessage(await choose(cookie, [add('streaming-premium-annual')]), 400, /completed/);
  });

  it('a downgrade is pending until the term ends: starts get 423 with Retry-After; the worker applies it, then starts work again', async () => {
    await loadSubscription('sub-down', 'streaming-premium-monthly', ['addon-extra-screen']);
    const termEnd = t.clock.now + 15 * DAY;
    const s = await start({ id: 'sub-down' });
    const chosen = await choose(cookieOf(s), [add('streaming-basic-monthly')]);
    assert.equal(chosen.status, 200, JSON.stringify(chosen.body));
    assert.equal(chosen.body.order.effectiveDate, iso(termEnd));
    assert.deepEqual(chosen.body.order.proration, { amount: 0, currency: 'EUR' });
    // basic does not cross-sell the extra screen: its remove is generated
    assert.deepEqual(chosen.body.order.orderItems.at(-1).offer.id, 'addon-extra-screen');
    assert.equal(chosen.body.order.orderItems.at(-1).orderItemActionType, 'remove');
    const order = await submit(s.body.order.checkoutId);
    assert.equal(order.status, 200, JSON.stringify(order.body));
    let sub = await subscription('sub-down');
    assert.deepEqual(sub.offer, { id: 'streaming-premium-monthly', version: 'v1' }, 'unchanged until its date');
    assert.deepEqual(sub.pendingChange, { offer: { id: 'streaming-basic-monthly', version: 'v1' }, effective: iso(termEnd) });

    const locked = await start({ id: 'sub-down' });
    assert.equal(locked.status, 423);
    assert.equal(locked.body.message, 'Subscription has pending change, checkout locked');
    assert.equal(locked.body.effectiveDate, iso(termEnd));
    assert.equal(locked.headers['retry-after'], String(15 * 86_400));

    t.clock.now = termEnd;
    await t.server.outbox.runOnce();
    sub = await subscription('sub-down');
    assert.deepEqual(sub.offer, { id: 'streaming-basic-monthly', version: 'v1' });
    assert.deepEqual(sub.addOns, []);
    assert.equal(sub.pendingChange, null);
    const unlocked = await start({ id: 'sub-down' });
    assert.equal(unlocked.status, 200, JSON.stringify(unlocked.body));
    assert.equal(unlocked.body.forSubscriptionOffer.id, 'streaming-basic-monthly');
  });

  it('a pending change loaded by the admin API locks too (the demo subscription)', async () => {
    const r = await start({ name: 'DEMO-SUB-0002' });
    assert.equal(r.status, 423, JSON.stringify(r.body));
    assert.ok(Number(r.headers['retry-after']) > 0);
    assert.ok(Date.parse(r.body.effectiveDate) > t.clock.now);
  });

  it('two changes of one subscription submitted concurrently: one applies, the other is refused and its basket reopened', async () => {
    await loadSubscription('sub-race', 'streaming-basic-monthly');
    const up = await start({ id: 'sub-race' });
    const up2 = await start({ id: 'sub-race' });
    assert.equal((await choose(cookieOf(up), [add('streaming-premium-monthly')])).status, 200);
    assert.equal((await choose(cookieOf(up2), [add('streaming-premium-annual')])).status, 200);
    const results = await Promise.all([submit(up.body.order.checkoutId), submit(up2.body.order.checkoutId)]);
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 409], JSON.stringify(results.map((r) => r.body)));
    const winner = results[0]!.status === 200 ? 'streaming-premium-monthly' : 'streaming-premium-annual';
    assert.deepEqual((await subscription('sub-race')).offer, { id: winner, version: 'v1' });
    const loser = results[0]!.status === 200 ? up2 : up;
    const read = await shop('GET', '/api/checkout/subscription', { cookie: cookieOf(loser) });
    assert.equal(read.body.completed, false);
  });

  it('a basket without a chosen offer cannot be submitted', async () => {
    await loadSubscription('sub-empty', 'streaming-basic-monthly');
    const s = await start({ id: 'sub-empty' });
    const r = await submit(s.body.order.checkoutId);
    assert.equal(r.status, 400, JSON.stringify(r.body));
  });
});

describe('random input over the subscription routes', () => {
  it('never answers a 5xx', async () => {
    await loadSubscription('sub-fuzz', 'streaming-basic-monthly', ['addon-sports']);
    const cookie = cookieOf(await start({ id: 'sub-fuzz' }));
    const ref = fc.record({ id: fc.oneof(fc.constantFrom('streaming-premium-monthly', 'addon-sports', 'offer-mug-1', 'streaming-basic-monthly'), fc.string()), version: fc.oneof(fc.constant('v1'), fc.string()) });
    const item = fc.record(
      {
        orderItemActionType: fc.oneof(fc.constantFrom('add', 'remove'), fc.string()),
        offer: fc.oneof(ref, fc.anything()),
        type: fc.oneof(fc.constantFrom('offer', 'add_on'), fc.anything()),
        quantity: fc.oneof(fc.integer({ min: -2, max: 120 }), fc.double(), fc.string()),
        parentId: fc.anything(),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.record({ orderItems: fc.array(item, { maxLength: 4 }) }),
      fc.record({ order: fc.record({ order_type: fc.oneof(fc.constant('update_subscription'), fc.string()), forSubscription: fc.oneof(fc.record({ id: fc.string() }), fc.record({ name: fc.string() }), fc.anything()) }) }),
      fc.anything(),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('POST', 'PUT', 'GET') as fc.Arbitrary<'POST' | 'PUT' | 'GET'>, body, fc.boolean(), async (method, b, withCookie) => {
        const r = await shop(method, '/api/checkout/subscription', { ...(method === 'GET' ? {} : { raw: JSON.stringify(b) ?? 'null' }), cookie: withCookie ? cookie : null });
        assert.ok(r.status < 500, `${method} ${JSON.stringify(b)} → ${r.status} ${JSON.stringify(r.body)}`);
        if (r.status >= 400) assert.equal(typeof r.body.message, 'string');
      }),
      { numRuns: 150 },
    );
  });
});
