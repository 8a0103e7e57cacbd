/**
 * Basket problems on GET (issue 22): per line, what the catalogue says now and the basket cannot honour, only when
 * there are any. The catalogue is changed through the admin API (the service forgets what it remembered at once).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BasketView, ProblemView } from '../../src/http/routes/baskets.js';
import type { BasketState } from '../../src/domain/basket.js';
import { ACME_KEY, ADMIN_KEY, OPEN_KEY, startTestServer, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

const item = (price: number | null, stock: number | null) => ({ name: 'thing', price, currency: 'EUR', taxRate: 19, stock });

async function putProduct(productId: string, body: unknown) {
  const res = await t.server.app.inject({
    method: 'PUT',
    url: `/admin/products/${productId}?partner=acme`,
    headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  assert.equal(res.statusCode, 200, res.body);
}

async function call(method: 'GET' | 'POST', url: string, user: string, body?: unknown, apiKey = ACME_KEY) {
  const token = apiKey === ACME_KEY ? await t.acmeToken(user) : await t.openToken(user);
  const res = await t.server.app.inject({
    method,
    url,
    headers: userHeaders(apiKey, token, body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as EnvelopeBody<BasketView>;
}

const problemsOf = async (user: string) => (await call('GET', `/v2/baskets/users/${user}`, user)).data.problems;

describe('basket problems', () => {
  it('are absent while the catalogue agrees with the basket', async () => {
    await putProduct('ok-1', item(10, 5));
    await call('POST', '/v2/baskets/users/u1/products/ok-1', 'u1', { count: 2 });
    const basket = (await call('GET', '/v2/baskets/users/u1', 'u1')).data;
    assert.equal('problems' in basket, false);
    assert.deepEqual(basket.cart, [{ productId: 'ok-1', count: 2 }], 'the remembered price stays off the wire');
  });

  it('report a price change, too little or no stock, and a product no longer for sale, in line order', async () => {
    for (const [id, price, stock] of [
      ['pa', 20, null],
      ['pb', 10, 5],
      ['pc', 5, 2],
      ['pd', 7, null],
      ['pe', 3, null],
    ] as const) {
      await putProduct(id, item(price, stock));
    }
    await call('POST', '/v2/baskets/users/u2/products/pa', 'u2', { count: 1 });
    await call('POST', '/v2/baskets/users/u2/products/pb', 'u2', { count: 3 });
    await call('POST', '/v2/baskets/users/u2/products/pc', 'u2', { count: 1 });
    await call('POST', '/v2/baskets/users/u2/products/pd', 'u2', { count: 1 });
    await call('POST', '/v2/baskets/users/u2/products/pe', 'u2', { count: 0 });
    assert.equal(await problemsOf('u2'), undefined);

    await putProduct('pa', item(24.5, null));
    await putProduct('pb', item(10, 2));
    await putProduct('pc', item(5, 0));
    await putProduct('pd', item(null, null));
    await putProduct('pe', { ...item(3, null), currency: 'CHF' });
    const expected: ProblemView[] = [
      { productId: 'pa', code: 'PRICE_CHANGED', list: 'cart', addedPrice: 20, addedCurrency: 'EUR', price: 24.5, currency: 'EUR' },
      { productId: 'pb', code: 'INSUFFICIENT_STOCK', list: 'cart', available: 2 },
      { productId: 'pc', code: 'OUT_OF_STOCK', list: 'cart' },
      { productId: 'pd', code: 'NOT_FOR_SALE', list: 'cart' },
      { productId: 'pe', code: 'PRICE_CHANGED', list: 'saved', addedPrice: 3, addedCurrency: 'EUR', price: 3, currency: 'CHF' },
    ];
    assert.deepEqual(await problemsOf('u2'), expected);

    // the write answers carry no problems; assigning again takes the current price, and that problem is gone
    const assigned = await call('POST', '/v2/baskets/users/u2/products/pa', 'u2', { count: 1 });
    assert.equal('problems' in assigned.data, false);
    await call('POST', '/v2/baskets/users/u2/products/pb', 'u2', { count: 2 });
    assert.deepEqual(await problemsOf('u2'), expected.slice(2));
  });

  it('report a product gone from the catalogue; a line from before prices were kept has no price problem', async () => {
    await putProduct('kept', item(10, null));
    await putProduct('old', item(10, null));
    // lines as an older release wrote them: no remembered price; 'ghost' is not in the catalogue (any more)
    await t.server.store.updateBasket({ partnerId: 'acme', userId: 'u3' }, () => {
      const now = t.clock.now;
      const state: BasketState = {
        cart: [
          { productId: 'ghost', count: 1 },
          { productId: 'old', count: 1 },
        ],
        saved: [],
        checkout: [],
        lastChanged: now,
        expires: now + 86_400_000,
        session: null,
      };
      return { state, result: null };
    });
    await putProduct('old', item(12, null));
    assert.deepEqual(await problemsOf('u3'), [{ productId: 'ghost', code: 'PRODUCT_GONE', list: 'cart' }]);
  });

  it('are never reported for a partner without a catalogue (any product id is fine there)', async () => {
    await call('POST', '/v2/baskets/users/u4/products/anything', 'u4', { count: 3 }, OPEN_KEY);
    const basket = (await call('GET', '/v2/baskets/users/u4', 'u4', undefined, OPEN_KEY)).data;
    assert.equal('problems' in basket, false);
  });
});
