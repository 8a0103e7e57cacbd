import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BasketView } from '../../src/http/routes/baskets.js';
import { DEMO_KEY, OPEN_KEY, startTestServer, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

const DAY = 86_400_000;

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, user: string, body?: unknown, apiKey = DEMO_KEY) {
  const token = apiKey === DEMO_KEY ? await t.demoToken(user) : await t.openToken(user);
  const res = await t.server.app.inject({
    method,
    url,
    headers: userHeaders(apiKey, token, body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<BasketView>, headers: res.headers };
}

const ids = (lines: { productId: string; count: number }[]) => lines.map((l) => `${l.productId}:${l.count}`);

describe('getBasket', () => {
  it('answers an empty basket for an unknown user, in the envelope, under /v2 and bare', async () => {
    for (const prefix of ['/v2', '']) {
      const r = await call('GET', `${prefix}/baskets/users/nobody`, 'nobody');
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body), ['data', 'nextToken', 'error']);
      assert.equal(r.body.error, null);
      assert.equal(r.body.nextToken, null);
      assert.deepEqual([r.body.data.cart, r.body.data.saved, r.body.data.checkout], [[], [], []]);
      assert.match(r.body.data.expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(r.body.data.lastChanged, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(r.headers['x-api-version'], '2025-09-15');
    }
  });

  it('shows what was assigned, with variant data from the catalogue', async () => {
    await call('POST', '/v2/baskets/users/g1/products/shoe-42', 'g1', { count: 2 });
    const r = await call('GET', '/baskets/users/g1', 'g1');
    assert.deepEqual(r.body.data.cart, [{ productId: 'shoe-42', count: 2, variant: '42', mainProductIdentifier: 'shoe' }]);
  });

  it('answers a basket read again with the same JSON, and a changed basket with its new state', async () => {
    const get = async () => {
      const res = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/g2', headers: userHeaders(DEMO_KEY, await t.demoToken('g2')) });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      return res.body;
    };
    await call('POST', '/v2/baskets/users/g2/products/prod-123', 'g2', { count: 1 });
    const first = await get();
    assert.equal(await get(), first);
    assert.deepEqual((JSON.parse(first) as EnvelopeBody<BasketView>).data.cart, [{ productId: 'prod-123', count: 1 }]);
    t.clock.now += 1000;
    await call('POST', '/v2/baskets/users/g2/products/prod-123', 'g2', { count: 3 });
    const changed = JSON.parse(await get()) as EnvelopeBody<BasketView>;
    assert.deepEqual(changed.data.cart, [{ productId: 'prod-123', count: 3 }]);
    assert.notEqual(changed.data.lastChanged, (JSON.parse(first) as EnvelopeBody<BasketView>).data.lastChanged);
    assert.deepEqual(Object.keys(changed), ['data', 'nextToken', 'error']);
  });
});

describe('assignProductToBasket', () => {
  it('defaults the count to 1 without a body, or with an empty JSON body', async () => {
    const token = await t.demoToken('a1');
    const noBody = await t.server.app.inject({ method: 'POST', url: '/v2/baskets/users/a1/products/prod-123', headers: userHeaders(DEMO_KEY, token) });
    assert.equal(noBody.statusCode, 200);
    assert.deepEqual(ids(noBody.json().data.cart), ['prod-123:1']);
    const emptyJson = await t.server.app.inject({
      method: 'POST',
      url: '/v2/baskets/users/a1/products/prod-456',
      headers: userHeaders(DEMO_KEY, token, { 'content-type': 'application/json' }),
      payload: '',
    });
    assert.equal(emptyJson.statusCode, 200);
    assert.deepEqual(ids(emptyJson.json().data.cart), ['prod-123:1', 'prod-456:1']);
    const emptyObject = await call('POST', '/v2/baskets/users/a1/products/prod-789', 'a1', {});
    assert.deepEqual(ids(emptyObject.body.data.cart), ['prod-123:1', 'prod-456:1', 'prod-789:1']);
  });

  it('applies the count semantics: >0 cart, 0 saved, -1 removed', async () => {
    let r = await call('POST', '/v2/baskets/users/a2/products/prod-123', 'a2', { count: 3 });
    assert.deepEqual(ids(r.body.data.cart), ['prod-123:3']);
    r = await call('POST', '/v2/baskets/users/a2/products/prod-123', 'a2', { count: 0 });
    assert.deepEqual(ids(r.body.data.cart), []);
    assert.deepEqual(ids(r.body.data.saved), ['prod-123:3']);
    r = await call('POST', '/v2/baskets/users/a2/products/prod-123', 'a2', { count: 5 });
    assert.deepEqual([ids(r.body.data.cart), ids(r.body.data.saved)], [['prod-123:5'], []]);
    r = await call('POST', '/v2/baskets/users/a2/products/prod-123', 'a2', { count: -1 });
    assert.deepEqual([r.body.data.cart, r.body.data.saved], [[], []]);
  });

  it('rejects bad counts with 422 3002 naming the field', async () => {
    for (const count of [-2, 100, 1.5, '2', null, true]) {
      const r = await call('POST', '/v2/baskets/users/a3/products/prod-123', 'a3', { count });
      assert.equal(r.status, 422, `count ${JSON.stringify(count)}`);
      assert.equal(r.body.error?.code, 3002);
      assert.equal(r.body.data, null);
      const details = r.body.error?.details as { field: string; message: string }[];
      assert.equal(details[0]?.field, 'body.count');
    }
    for (const body of [[], 5, 'x']) {
      const r = await call('POST', '/v2/baskets/users/a3/products/prod-123', 'a3', body);
      assert.equal(r.status, 422, `body ${JSON.stringify(body)}`);
      assert.equal(r.body.error?.code, 3002);
    }
    const r = await call('GET', '/v2/baskets/users/a3', 'a3');
    assert.deepEqual(r.body.data.cart, [], 'a rejected request changes nothing');
  });

  it('404 2012 for a product the catalogue does not know', async () => {
    const r = await call('POST', '/v2/baskets/users/a4/products/nope', 'a4', { count: 1 });
    assert.equal(r.status, 404);
    assert.deepEqual(r.body.error, { code: 2012, message: 'Product nope not found', details: 'PRODUCT_NOT_FOUND' });
  });

  it('a partner without a catalogue accepts any product id', async () => {
    const r = await call('POST', '/v2/baskets/users/a5/products/anything-goes', 'a5', { count: 2 }, OPEN_KEY);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.data.cart, [{ productId: 'anything-goes', count: 2 }]);
  });

  it('refuses a 21st product with 422 2008 and still overwrites lines of a full cart', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await call('POST', `/v2/baskets/users/a6/products/p${i}`, 'a6', { count: 1 }, OPEN_KEY);
      assert.equal(r.status, 200);
    }
    const over = await call('POST', '/v2/baskets/users/a6/products/p20', 'a6', { count: 1 }, OPEN_KEY);
    assert.equal(over.status, 422);
    assert.equal(over.body.error?.code, 2008);
    assert.equal(over.body.error?.details, 'CART_LIMIT_REACHED');
    const overwrite = await call('POST', '/v2/baskets/users/a6/products/p3', 'a6', { count: 7 }, OPEN_KEY);
    assert.equal(overwrite.status, 200);
    assert.equal(overwrite.body.data.cart.length, 20);
    const saved = await call('POST', '/v2/baskets/users/a6/products/p20', 'a6', { count: 0 }, OPEN_KEY);
    assert.equal(saved.status, 200, 'the saved list has no 20-line limit');
  });

  it('accepts the tracking header and provider_id, and ignores an undecodable tracking header', async () => {
    const token = await t.demoToken('a7');
    const tracking = Buffer.from(JSON.stringify({ session_id: 's', start_time: '2025-01-01T12:00:00.000000', source: 'x' })).toString('base64');
    for (const value of [tracking, '%%%not-base64', Buffer.from('[1,2]').toString('base64')]) {
      const res = await t.server.app.inject({
        method: 'POST',
        url: '/v2/baskets/users/a7/products/prod-123?provider_id=netflix',
        headers: userHeaders(DEMO_KEY, token, { 'x-jay-tracking': value, 'content-type': 'application/json' }),
        payload: '{"count":1}',
      });
      assert.equal(res.statusCode, 200);
    }
  });
});

describe('updateProductInBasket', () => {
  it('404 2006 for a product not in the basket (known or unknown to the catalogue)', async () => {
    for (const product of ['prod-123', 'not-in-catalogue']) {
      const r = await call('PATCH', `/v2/baskets/users/u1/products/${product}`, 'u1', { count: 2 });
      assert.equal(r.status, 404);
      assert.equal(r.body.error?.code, 2006);
    }
  });

  it('null or absent count leaves the line unchanged and writes nothing', async () => {
    const first = await call('POST', '/v2/baskets/users/u2/products/prod-123', 'u2', { count: 4 });
    t.clock.now += 5000;
    for (const body of [{ count: null }, {}]) {
      const r = await call('PATCH', '/v2/baskets/users/u2/products/prod-123', 'u2', body);
      assert.equal(r.status, 200);
      assert.deepEqual(ids(r.body.data.cart), ['prod-123:4']);
      assert.equal(r.body.data.lastChanged, first.body.data.lastChanged);
    }
  });

  it('moves between lists and removes like assign', async () => {
    await call('POST', '/v2/baskets/users/u3/products/prod-123', 'u3', { count: 2 });
    let r = await call('PATCH', '/v2/baskets/users/u3/products/prod-123', 'u3', { count: 0 });
    assert.deepEqual([ids(r.body.data.cart), ids(r.body.data.saved)], [[], ['prod-123:2']]);
    r = await call('PATCH', '/v2/baskets/users/u3/products/prod-123', 'u3', { count: 6 });
    assert.deepEqual([ids(r.body.data.cart), ids(r.body.data.saved)], [['prod-123:6'], []]);
    r = await call('PATCH', '/v2/baskets/users/u3/products/prod-123', 'u3', { count: -1 });
    assert.deepEqual([r.body.data.cart, r.body.data.saved], [[], []]);
  });
});

describe('deleteProductFromBasket and deleteBasket', () => {
  it('removes a product; 404 2006 when it is not there', async () => {
    await call('POST', '/v2/baskets/users/d1/products/prod-123', 'd1', { count: 2 });
    await call('POST', '/v2/baskets/users/d1/products/prod-456', 'd1', { count: 0 });
    let r = await call('DELETE', '/v2/baskets/users/d1/products/prod-456', 'd1');
    assert.deepEqual([ids(r.body.data.cart), r.body.data.saved], [['prod-123:2'], []]);
    r = await call('DELETE', '/v2/baskets/users/d1/products/prod-456', 'd1');
    assert.equal(r.status, 404);
    assert.equal(r.body.error?.code, 2006);
  });

  it('empties the basket, idempotently', async () => {
    await call('POST', '/v2/baskets/users/d2/products/prod-123', 'd2', { count: 2 });
    await call('POST', '/v2/baskets/users/d2/products/prod-456', 'd2', { count: 0 });
    for (let i = 0; i < 2; i++) {
      const r = await call('DELETE', '/v2/baskets/users/d2', 'd2');
      assert.equal(r.status, 200);
      assert.deepEqual([r.body.data.cart, r.body.data.saved, r.body.data.checkout], [[], [], []]);
    }
  });

  it('answers 423 while a checkout is active, and product operations leave checkout alone', async () => {
    await call('POST', '/v2/baskets/users/d3/products/prod-123', 'd3', { count: 1 });
    // put the basket into checkout directly through the store (checkout routes come with their own issue)
    await t.server.store.updateBasket({ partnerId: 'demo', userId: 'd3' }, (cur) => {
      const s = cur!.state;
      const state = { ...s, cart: [], checkout: s.cart.map((l) => ({ ...l, stocked: l.count })), session: { id: 's', orderNo: 'o', startedAt: t.clock.now, expires: t.clock.now + 60_000 } };
      return { state, result: null };
    });
    const del = await call('DELETE', '/v2/baskets/users/d3', 'd3');
    assert.equal(del.status, 423);
    assert.deepEqual(del.body.error, { code: 423, message: 'The basket is locked by an active checkout', details: 'BASKET_LOCKED' });
    const add = await call('POST', '/v2/baskets/users/d3/products/prod-123', 'd3', { count: 5 });
    assert.equal(add.status, 200);
    assert.deepEqual(ids(add.body.data.cart), ['prod-123:5']);
    assert.deepEqual(add.body.data.checkout, [{ productId: 'prod-123', count: 1, stocked: 1 }]);
  });
});

describe('lifetimes and isolation', () => {
  it('slides the expiry with every change and reads an expired basket as empty', async () => {
    const r1 = await call('POST', '/v2/baskets/users/e1/products/prod-123', 'e1', { count: 1 });
    assert.equal(Date.parse(r1.body.data.expires) - Date.parse(r1.body.data.lastChanged), 30 * DAY);
    t.clock.now += 10 * DAY;
    const r2 = await call('POST', '/v2/baskets/users/e1/products/prod-456', 'e1', { count: 1 });
    assert.equal(Date.parse(r2.body.data.expires), Date.parse(r1.body.data.expires) + 10 * DAY);
    t.clock.now += 30 * DAY - 1000;
    assert.equal((await call('GET', '/v2/baskets/users/e1', 'e1')).body.data.cart.length, 2, 'reading does not expire it early');
    t.clock.now += 2000;
    assert.deepEqual((await call('GET', '/v2/baskets/users/e1', 'e1')).body.data.cart, []);
  });

  it('keeps the baskets of two partners apart for the same user id', async () => {
    await call('POST', '/v2/baskets/users/same/products/prod-123', 'same', { count: 1 });
    await call('POST', '/v2/baskets/users/same/products/other', 'same', { count: 3 }, OPEN_KEY);
    const demo = await call('GET', '/v2/baskets/users/same', 'same');
    const open = await call('GET', '/v2/baskets/users/same', 'same', undefined, OPEN_KEY);
    assert.deepEqual(ids(demo.body.data.cart), ['prod-123:1']);
    assert.deepEqual(ids(open.body.data.cart), ['other:3']);
  });
});

describe('getProductInformation', () => {
  async function details(body: unknown, headers: Record<string, string> = { 'x-api-key': DEMO_KEY }) {
    const res = await t.server.app.inject({ method: 'POST', url: '/v2/baskets/products/details', headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    return { status: res.statusCode, body: res.json() as EnvelopeBody<{ products: Record<string, unknown>[] }> };
  }

  it('returns known products in the order asked, leaving out unknown ids, without a bearer token', async () => {
    const r = await details(['prod-789', 'unknown', 'shoe-42', 'prod-789']);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.data.products.map((p) => p.productId),
      ['prod-789', 'shoe-42'],
    );
    assert.deepEqual(r.body.data.products[1], {
      productId: 'shoe-42',
      variant: '42',
      mainProductIdentifier: 'shoe',
      name: 'Detective boots, size 42',
      brand: 'Baker Street',
      price: 89.5,
      currency: 'EUR',
      currentStockCount: 5,
      shopSource: 'demo-shop',
      slug: 'detective-boots',
      images: ['https://images.example.com/shoe.jpg'],
    });
    assert.equal(r.body.data.products[0]?.currentStockCount, null, 'unlimited stock reads null');
  });

  it('needs 1 to 50 string ids and an API key', async () => {
    for (const body of [[], Array.from({ length: 51 }, (_, i) => `p${i}`), [1], { ids: ['a'] }]) {
      const r = await details(body);
      assert.equal(r.status, 422, JSON.stringify(body).slice(0, 40));
      assert.equal(r.body.error?.code, 3002);
    }
    const fifty = await details(Array.from({ length: 50 }, (_, i) => `p${i}`));
    assert.equal(fifty.status, 200);
    const noKey = await details(['prod-123'], {});
    assert.equal(noKey.status, 401);
    assert.equal(noKey.body.error?.code, 2023);
  });
});
