/**
 * The shop's checkout baskets through the real server (shop-api.md §3.2 initiate, §3.3 update, the landing-state
 * cookie of §1): offers and add-ons, quantities, replace by external id, cookie variants, partner isolation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './harness.js';
import {
  addOn,
  cookieOf,
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
  update,
} from './shop-helpers.js';

const DAY = 24 * 60 * 60 * 1000;

let t: TestServer;
let token: string;
let shopcoToken: string;
before(async () => {
  t = await startTestServer(SHOP_ENV);
  await loadOffers(t, DEMO);
  await loadOffers(t, SHOPCO);
  token = await shopToken(t);
  shopcoToken = await shopToken(t, SHOPCO_CLIENT);
});
after(() => t?.close());

describe('POST /api/checkout/initiate', () => {
  it('creates a basket of offers and add-ons, answers its id and sets the landing-state cookie', async () => {
    const res = await initiate(t, token, {
      orderItems: [item('premium-monthly', 2), addOn('sports', 'premium-monthly')],
      customerDetails: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' },
      tracking: { campaign: 'spring', offers: ['premium-monthly'] },
      country: 'DE',
      source: 'web',
    });
    assert.equal(res.status, 200, res.raw);
    assert.match(res.body.id, /^basket-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(res.body), ['id']);
    const setCookie = res.headers['set-cookie'] as string;
    assert.equal(setCookie, `limio_state=${encodeURIComponent(JSON.stringify({ basketId: res.body.id }))}; Path=/; Max-Age=${14 * 86_400}; HttpOnly; Secure; SameSite=None`);

    const stored = (await t.server.store.shop.getShopBasket(DEMO, res.body.id))!.basket;
    assert.equal(stored.status, 'open');
    assert.equal(stored.expires, t.clock.now + 14 * DAY);
    assert.deepEqual(stored.details.customerDetails, { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' });
    const [premium, sports] = stored.items;
    assert.deepEqual([premium!.type, premium!.quantity, premium!.unitPrice], ['offer', 2, 1799]);
    assert.deepEqual([sports!.type, sports!.parentId, sports!.unitPrice], ['add_on', premium!.id, 499]);

    // the update route shows it with money in major units
    const shown = await update(t, token, cookieOf(res), [{ orderItemActionType: 'quantity', id: premium!.id, quantity: 3 }]);
    assert.equal(shown.status, 200, shown.raw);
    assert.deepEqual(shown.body.order.total, { amount: 58.96, currency: 'EUR' });
    assert.deepEqual(shown.body.order.orderItems.map((i) => [i.name, i.quantity, i.price.amount, i.total.amount]), [
      ['Offer premium-monthly', 3, 17.99, 53.97],
      ['Offer sports', 1, 4.99, 4.99],
    ]);
    assert.equal(shown.body.order.expiresAt, new Date(stored.expires).toISOString());
  });

  it('refuses unknown offers and versions, bad quantities, add-ons without a fitting parent: 400 {"message"}', async () => {
    const cases: Array<[unknown[], RegExp]> = [
      [[item('nope')], /Unknown offer nope version v1/],
      [[item('basic-monthly', 1, 'v9')], /Unknown offer basic-monthly version v9/],
      [[item('basic-monthly', 0)], /quantity/],
      [[item('basic-monthly', 100)], /quantity/],
      [[{ ...item('basic-monthly'), quantity: 1.5 }], /quantity/],
      [[item('sports')], /is an add-on, not an offer/],
      [[addOn('sports', 'premium-monthly')], /names no offer item/],
      [[item('basic-monthly'), addOn('screen', 'basic-monthly')], /does not list add-on screen as a cross-sell/],
      [[{ offer: { id: 'sports', version: 'v1' }, quantity: 1, type: 'add_on' }, item('basic-monthly')], /needs a parentId/],
      [[item('basic-monthly'), item('dollars')], /one currency/],
    ];
    for (const [orderItems, message] of cases) {
      const res = await initiate(t, token, { orderItems });
      expectMessage(res, 400, message);
      assert.equal(res.headers['set-cookie'], undefined);
    }
  });

  it('refuses malformed bodies with 400 {"message"}', async () => {
    for (const body of [{}, { order: { orderItems: 'x' } }, { order: { order_type: 'update_subscription' } }, { order: { orderItems: [], extra: 1 } }, { order: { country: 'germany' } }, [], 'x']) {
      const res = await shopCall(t, 'POST', '/api/checkout/initiate', { token, body });
      expectMessage(res, 400);
    }
    const res = await shopCall(t, 'POST', '/api/checkout/initiate', { token, body: { order: { orderItems: Array.from({ length: 101 }, () => item('basic-monthly')) } } });
    expectMessage(res, 400);
  });

  it('needs a shop token with the checkout scope: 401', async () => {
    expectMessage(await initiate(t, '', { orderItems: [] }), 401);
    expectMessage(await initiate(t, 'not-a-token', { orderItems: [] }), 401);
  });

  it('external_id: an open basket gets the new content under the same id; a completed one is replaced by a new basket', async () => {
    const first = await initiate(t, token, { external_id: 'ext-1', orderItems: [item('basic-monthly')] });
    assert.equal(first.status, 200, first.raw);
    const again = await initiate(t, token, { external_id: 'ext-1', orderItems: [item('premium-monthly', 2)], customerDetails: { email: 'b@example.com' } });
    assert.equal(again.body.id, first.body.id);
    const stored = (await t.server.store.shop.getShopBasket(DEMO, first.body.id))!.basket;
    assert.deepEqual(stored.items.map((i) => [i.offer!.id, i.quantity]), [['premium-monthly', 2]]);
    assert.deepEqual(stored.details.customerDetails, { email: 'b@example.com' });
    assert.equal(stored.externalId, 'ext-1');

    // another partner's same external id is its own
    const other = await initiate(t, shopcoToken, { external_id: 'ext-1', orderItems: [item('basic-monthly')] });
    assert.notEqual(other.body.id, first.body.id);

    const order = await shopCall(t, 'POST', '/api/order', { token, body: { checkoutId: first.body.id } });
    assert.equal(order.status, 200, order.raw);
    const fresh = await initiate(t, token, { external_id: 'ext-1', orderItems: [item('basic-monthly')] });
    assert.equal(fresh.status, 200, fresh.raw);
    assert.notEqual(fresh.body.id, first.body.id);
    assert.equal(await t.server.store.shop.getExternalId(DEMO, 'ext-1'), fresh.body.id);
    assert.equal((await t.server.store.shop.getShopBasket(DEMO, first.body.id))!.basket.status, 'completed');
  });

  it('external_id: an expired basket is replaced by a new one', async () => {
    const first = await initiate(t, token, { external_id: 'ext-expiring', orderItems: [item('basic-monthly')] });
    t.clock.now += 14 * DAY;
    try {
      const next = await initiate(t, await shopToken(t), { external_id: 'ext-expiring', orderItems: [item('basic-monthly')] });
      assert.equal(next.status, 200, next.raw);
      assert.notEqual(next.body.id, first.body.id);
    } finally {
      t.clock.now -= 14 * DAY;
    }
  });

  it('external_id: concurrent initiates end with one basket holding one of the contents', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => initiate(t, token, { external_id: 'ext-race', orderItems: [item('basic-monthly', n + 1)] })),
    );
    for (const r of results) assert.equal(r.status, 200, r.raw);
    const ids = new Set(results.map((r) => r.body.id));
    assert.equal(ids.size, 1, `one basket for the external id: ${[...ids].join(', ')}`);
    const stored = (await t.server.store.shop.getShopBasket(DEMO, [...ids][0]!))!.basket;
    assert.equal(stored.items.length, 1);
    assert.equal(await t.server.store.shop.getExternalId(DEMO, 'ext-race'), stored.id);
  });
});

describe('PUT /api/checkout/update', () => {
  async function fresh(orderItems: unknown[] = [item('basic-monthly')]): Promise<{ id: string; cookie: string }> {
    const res = await initiate(t, token, { orderItems });
    assert.equal(res.status, 200, res.raw);
    return { id: res.body.id, cookie: cookieOf(res) };
  }

  it('add, quantity and remove by item id; removing an offer removes its add-ons', async () => {
    const b = await fresh();
    let res = await update(t, token, b.cookie, [{ orderItemActionType: 'add', offer: { id: 'premium-monthly', version: 'v1' }, type: 'offer', quantity: 1 }]);
    assert.equal(res.status, 200, res.raw);
    assert.equal(res.body.id, b.id);
    const premium = res.body.order.orderItems.find((i) => i.offer?.id === 'premium-monthly')!;
    res = await update(t, token, b.cookie, [
      { orderItemActionType: 'add', offer: { id: 'screen', version: 'v1' }, type: 'add_on', parentId: premium.id, quantity: 2 },
      { orderItemActionType: 'add', offer: { id: 'sports', version: 'v1' }, type: 'add_on', parentId: premium.id },
    ]);
    assert.equal(res.status, 200, res.raw);
    assert.deepEqual(res.body.order.orderItems.map((i) => [i.offer!.id, i.quantity, i.parentId === premium.id]), [
      ['basic-monthly', 1, false],
      ['premium-monthly', 1, false],
      ['screen', 2, true],
      ['sports', 1, true],
    ]);
    assert.deepEqual(res.body.order.total, { amount: 38.95, currency: 'EUR' }); // 9.99 + 17.99 + 2 × 2.99 + 4.99
    const screen = res.body.order.orderItems.find((i) => i.offer?.id === 'screen')!;
    res = await update(t, token, b.cookie, [{ orderItemActionType: 'quantity', id: screen.id, quantity: 5 }]);
    assert.equal(res.body.order.orderItems.find((i) => i.id === screen.id)!.quantity, 5);
    res = await update(t, token, b.cookie, [{ orderItemActionType: 'remove', id: premium.id }]);
    assert.deepEqual(res.body.order.orderItems.map((i) => i.offer!.id), ['basic-monthly']);
    assert.match(String(res.headers['set-cookie']), /^limio_state=.*; Max-Age=\d+; HttpOnly; Secure; SameSite=None$/);
  });

  it('bad actions: 400, and the basket is unchanged', async () => {
    const b = await fresh();
    const before = (await t.server.store.shop.getShopBasket(DEMO, b.id))!;
    const itemId = before.basket.items[0]!.id;
    const cases: Array<[unknown[], RegExp]> = [
      [[{ orderItemActionType: 'remove', id: 'item-000000000000' }], /No order item item-000000000000/],
      [[{ orderItemActionType: 'quantity', id: itemId }], /needs a quantity/],
      [[{ orderItemActionType: 'remove' }], /needs the id/],
      [[{ orderItemActionType: 'add' }], /needs an offer/],
      [[{ orderItemActionType: 'add', offer: { id: 'screen', version: 'v1' }, type: 'add_on', parentId: itemId }], /does not list add-on screen/],
      [[{ orderItemActionType: 'add', offer: { id: 'dollars', version: 'v1' } }], /one currency/],
      [[{ orderItemActionType: 'quantity', id: itemId, quantity: 7 }, { orderItemActionType: 'remove', id: 'item-x' }], /No order item item-x/],
      [[{ orderItemActionType: 'quantity', id: itemId, quantity: 100 }], /quantity/],
      [[{ orderItemActionType: 'remove', id: itemId, quantity: 2 }], /remove takes no quantity/],
    ];
    for (const [actions, message] of cases) expectMessage(await update(t, token, b.cookie, actions), 400, message);
    expectMessage(await update(t, token, b.cookie, []), 400);
    const afterwards = (await t.server.store.shop.getShopBasket(DEMO, b.id))!;
    assert.equal(afterwards.version, before.version, 'nothing was written');
  });

  it('no, unknown, foreign or expired landing state: 404 "Basket not found in landing state"', async () => {
    const b = await fresh();
    const action = [{ orderItemActionType: 'add', offer: { id: 'basic-monthly', version: 'v1' } }];
    for (const cookie of [undefined, '', 'limio_state=', 'limio_state=garbage', 'limio_state=basket-00000000-0000-4000-8000-000000000000', 'other=1', 'limio_state=%E0%A4%A']) {
      expectMessage(await update(t, token, cookie, action), 404, 'Basket not found in landing state');
    }
    // another partner's client cannot see the basket
    expectMessage(await update(t, shopcoToken, b.cookie, action), 404, 'Basket not found in landing state');
    t.clock.now += 14 * DAY;
    try {
      expectMessage(await update(t, await shopToken(t), b.cookie, action), 404, 'Basket not found in landing state');
    } finally {
      t.clock.now -= 14 * DAY;
    }
  });

  it('reads the cookie liberally: URL-encoded JSON, raw JSON, a bare id, base64 JSON', async () => {
    const b = await fresh();
    const json = JSON.stringify({ basketId: b.id });
    const action = [{ orderItemActionType: 'add', offer: { id: 'basic-monthly', version: 'v1' } }];
    for (const value of [encodeURIComponent(json), b.id, Buffer.from(json).toString('base64'), Buffer.from(json).toString('base64url')]) {
      const res = await update(t, token, `a=1; limio_state=${value}; b=2`, action);
      assert.equal(res.status, 200, `${value}: ${res.raw}`);
      assert.equal(res.body.id, b.id);
    }
  });

  it('a completed basket cannot change: 400', async () => {
    const b = await fresh();
    assert.equal((await shopCall(t, 'POST', '/api/order', { token, body: { checkoutId: b.id } })).status, 200);
    expectMessage(await update(t, token, b.cookie, [{ orderItemActionType: 'add', offer: { id: 'basic-monthly', version: 'v1' } }]), 400, /completed/);
  });

  it('concurrent updates lose nothing (compare-and-set)', async () => {
    const b = await fresh();
    const itemId = (await t.server.store.shop.getShopBasket(DEMO, b.id))!.basket.items[0]!.id;
    const results = await Promise.all(
      Array.from({ length: 10 }, () => update(t, token, b.cookie, [{ orderItemActionType: 'add', offer: { id: 'sports', version: 'v1' }, type: 'add_on', parentId: itemId }])),
    );
    for (const r of results) assert.equal(r.status, 200, r.raw);
    const stored = (await t.server.store.shop.getShopBasket(DEMO, b.id))!.basket;
    assert.equal(stored.items.find((i) => i.offer?.id === 'sports')!.quantity, 10);
  });
});
