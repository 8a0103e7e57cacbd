/**
 * TV to shop, end to end through the real server (shop-api.md §3.2 `jayToken`, device spec §3.8): a viewer's TV
 * basket (device surface: partner API key + JWT) is transferred, the web shop initiates a checkout basket with the
 * jayToken, updates it and orders it. The token works once, only for its partner, only while it lives; the device
 * basket is not changed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_KEY, startTestServer, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';
import { cookieOf, DEMO, expectMessage, initiate, item, loadOffers, SHOP_ENV, SHOPCO, SHOPCO_CLIENT, shopToken, submit, update } from './shop-helpers.js';

let t: TestServer;
let token: string;
before(async () => {
  t = await startTestServer(SHOP_ENV);
  await loadOffers(t, DEMO);
  await loadOffers(t, SHOPCO);
  // a product no one-off offer sells (the demo set has one for every demo product)
  await t.server.store.upsertProducts(DEMO, [POSTER]);
  token = await shopToken(t);
});

const POSTER = {
  productId: 'tv-poster',
  variant: null,
  mainProductIdentifier: null,
  name: 'Show poster',
  brand: null,
  price: 1990,
  currency: 'EUR',
  taxRateBp: 1900,
  stock: null,
  shopSource: null,
  slug: null,
  images: [],
};
after(() => t?.close());

async function assign(userId: string, productId: string, count: number): Promise<void> {
  const res = await t.server.app.inject({
    method: 'POST',
    url: `/v2/baskets/users/${userId}/products/${productId}`,
    headers: userHeaders(DEMO_KEY, await t.demoToken(userId), { 'content-type': 'application/json' }),
    payload: JSON.stringify({ count }),
  });
  assert.equal(res.statusCode, 200, res.body);
}

async function transfer(userId: string): Promise<string> {
  const res = await t.server.app.inject({
    method: 'POST',
    url: `/v2/baskets/users/${userId}/transfer`,
    headers: userHeaders(DEMO_KEY, await t.demoToken(userId)),
  });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as EnvelopeBody<{ jayToken: string }>).data.jayToken;
}

async function deviceCart(userId: string): Promise<unknown> {
  const res = await t.server.app.inject({ method: 'GET', url: `/v2/baskets/users/${userId}`, headers: userHeaders(DEMO_KEY, await t.demoToken(userId)) });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as EnvelopeBody<{ cart: unknown }>).data.cart;
}

describe('TV to shop', () => {
  it('assign on the TV → transfer → shop initiate with the jayToken → update → order; the token works once', async () => {
    const user = 'tv-viewer-1';
    await assign(user, 'prod-123', 2); // sold by the demo set's one-off offer offer-prod-123
    await assign(user, 'tv-poster', 1); // no offer sells it: a product item priced from the catalogue
    const cartBefore = await deviceCart(user);
    const jayToken = await transfer(user);

    const created = await initiate(t, token, { jayToken, customerDetails: { email: 'viewer@example.com' } });
    assert.equal(created.status, 200, created.raw);
    const stored = (await t.server.store.shop.getShopBasket(DEMO, created.body.id))!.basket;
    assert.deepEqual(
      stored.items.map((i) => [i.type, i.offer?.id ?? null, i.productId, i.quantity, i.unitPrice]),
      [
        ['offer', 'offer-prod-123', null, 2, 12_990],
        ['product', null, 'tv-poster', 1, 1990],
      ],
    );
    assert.deepEqual(stored.details.identities, [{ type: 'jay', id: user }]);
    assert.equal(stored.details.entry, 'tv');

    // the shop goes on with it: one more dress, then the order
    const cookie = cookieOf(created);
    const dress = stored.items[0]!;
    const updated = await update(t, token, cookie, [
      { orderItemActionType: 'quantity', id: dress.id, quantity: 3 },
      { orderItemActionType: 'add', offer: { id: 'basic-monthly', version: 'v1' } },
    ]);
    assert.equal(updated.status, 200, updated.raw);
    assert.deepEqual(updated.body.order.total, { amount: 419.59, currency: 'EUR' }); // 3 × 129.90 + 19.90 + 9.99
    const order = await submit(t, token, created.body.id);
    assert.equal(order.status, 200, order.raw);
    assert.equal(order.body.status, 'completed');
    assert.equal((await t.server.store.shop.getShopOrder(DEMO, order.body.id))!.total, 3 * 12_990 + 1990 + 999);

    // the device basket is untouched; the token is used up
    assert.deepEqual(await deviceCart(user), cartBefore);
    expectMessage(await initiate(t, token, { jayToken }), 400, 'jayToken is unknown, used or expired');
  });

  it('a token of another partner is refused (and not used up), an expired or unknown one too: 400', async () => {
    const user = 'tv-viewer-2';
    await assign(user, 'prod-456', 1);
    const jayToken = await transfer(user);
    const shopco = await shopToken(t, SHOPCO_CLIENT);
    expectMessage(await initiate(t, shopco, { jayToken }), 400, 'jayToken is unknown, used or expired');
    expectMessage(await initiate(t, token, { jayToken: 'x'.repeat(43) }), 400, 'jayToken is unknown, used or expired');
    // still usable by its own partner
    const ok = await initiate(t, token, { jayToken });
    assert.equal(ok.status, 200, ok.raw);

    const later = await transfer(user);
    t.clock.now += 61_000;
    try {
      expectMessage(await initiate(t, token, { jayToken: later }), 400, 'jayToken is unknown, used or expired');
    } finally {
      t.clock.now -= 61_000;
    }
  });

  it('a bad body is refused before the token is redeemed', async () => {
    const user = 'tv-viewer-3';
    await assign(user, 'prod-123', 1);
    const jayToken = await transfer(user);
    expectMessage(await initiate(t, token, { jayToken, orderItems: [item('nope')] }), 400, /Unknown offer nope/);
    const ok = await initiate(t, token, { jayToken, orderItems: [item('basic-monthly')] });
    assert.equal(ok.status, 200, ok.raw);
    const stored = (await t.server.store.shop.getShopBasket(DEMO, ok.body.id))!.basket;
    assert.deepEqual(stored.items.map((i) => i.offer?.id), ['basic-monthly', 'offer-prod-123']);
  });

  it('concurrent redemptions of one token: one basket', async () => {
    const user = 'tv-viewer-4';
    await assign(user, 'prod-123', 1);
    const jayToken = await transfer(user);
    const results = await Promise.all(Array.from({ length: 5 }, () => initiate(t, token, { jayToken })));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400, 400, 400]);
  });
});
