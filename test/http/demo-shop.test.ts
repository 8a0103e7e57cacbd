/**
 * The demo shop's routes through the real server (src/http/routes/demo-shop.ts), on every store: served only with
 * the development partner; the pages' security headers (nonce CSP, no referrer, no store) and escaping; the token
 * route refuses other origins and its token works on the shop API; the landing-state read answers only the
 * caller's partner's checkout basket. The pages themselves run in test/browser/demo-shop.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './harness.js';
import {
  cookieOf,
  DEMO,
  expectMessage,
  initiate,
  item,
  loadOffers,
  OFFERS,
  SHOP_ENV,
  SHOPCO,
  SHOPCO_CLIENT,
  shopCall,
  shopToken,
  submit,
  type BasketAnswer,
} from './shop-helpers.js';

const PATHS = ['/demo/shop', '/demo/shop/account', '/demo/shop/demo-shop.js', '/demo/shop/icon.svg', '/demo/shop/basket'];

interface DemoBasket {
  basket: (BasketAnswer & { status: string; orderId: string | null }) | null;
}

describe('demo shop routes', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(SHOP_ENV);
    // the demo set (loaded at start) has its own offer-prod-123
    await loadOffers(t, DEMO, OFFERS.filter((o) => o.id !== 'offer-prod-123'));
    await loadOffers(t, SHOPCO);
  });
  after(() => t?.close());

  async function demoToken(headers: Record<string, string> = { origin: 'http://localhost:80', host: 'localhost:80' }) {
    return t.server.app.inject({ method: 'POST', url: '/demo/shop/token', headers });
  }

  it('serves both pages with a nonce CSP that allows only its own style and script, no referrer, no cache', async () => {
    for (const url of ['/demo/shop?jaySource=demo-tv&jayToken=abc', '/demo/shop/account?subscription=sub-demo-basic']) {
      const res = await t.server.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
      const csp = String(res.headers['content-security-policy']);
      const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
      assert.ok(nonce, csp);
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, new RegExp(`style-src 'nonce-${nonce.replace(/[+/=]/g, '\\$&')}'`));
      assert.match(csp, /connect-src 'self'/);
      assert.doesNotMatch(csp, /unsafe/);
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.match(res.body, /<html lang="en">/);
      // one script and one style element, both with this response's nonce; no inline handlers
      assert.deepEqual([...res.body.matchAll(/<script[^>]*>/g)].map((m) => m[0]), [`<script nonce="${nonce}" src="/demo/shop/demo-shop.js">`]);
      assert.deepEqual([...res.body.matchAll(/<style[^>]*>/g)].map((m) => m[0]), [`<style nonce="${nonce}">`]);
      assert.doesNotMatch(res.body, /\son[a-z]+=/);
      assert.doesNotMatch(res.body, /abc/, 'the transfer token is not echoed into the page');
    }
    const a = await t.server.app.inject({ method: 'GET', url: '/demo/shop' });
    const b = await t.server.app.inject({ method: 'GET', url: '/demo/shop' });
    assert.notEqual(a.headers['content-security-policy'], b.headers['content-security-policy'], 'a nonce per response');
  });

  it('escapes the subscription id into the lookup field', async () => {
    const res = await t.server.app.inject({ method: 'GET', url: `/demo/shop/account?subscription=${encodeURIComponent('"><script>alert(1)</script>')}` });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
    assert.doesNotMatch(res.body, /<script>alert/);
    // repeated: no value rather than a guess
    const twice = await t.server.app.inject({ method: 'GET', url: '/demo/shop/account?subscription=a&subscription=b' });
    assert.match(twice.body, /name="subscription"[^>]* value=""/);
  });

  it('serves the script and the icon with their types', async () => {
    const js = await t.server.app.inject({ method: 'GET', url: '/demo/shop/demo-shop.js' });
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    assert.match(js.body, /^\/\/ The demo shop's script/);
    assert.doesNotMatch(js.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, 'data is written as text only');
    const icon = await t.server.app.inject({ method: 'GET', url: '/demo/shop/icon.svg' });
    assert.equal(icon.statusCode, 200);
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
  });

  it('mints a shop token for same-origin pages only; the token works on the shop API', async () => {
    for (const headers of <Record<string, string>[]>[
      { origin: 'http://localhost:80', host: 'localhost:80', 'sec-fetch-site': 'same-origin' },
      { host: 'localhost:80', 'sec-fetch-site': 'same-origin' },
      // behind a proxy that rewrites Host: the public URL's origin (SHOP_ENV's PUBLIC_URL)
      { origin: 'https://basket.example.net', host: '10.0.0.7:8080', 'sec-fetch-site': 'same-origin' },
      {}, // no browser at all (curl): it could use the published development secret anyway
    ]) {
      const res = await demoToken(headers);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json() as { access_token: string; token_type: string; expires_in: number; scope: string };
      assert.deepEqual([body.token_type, body.expires_in, body.scope], ['Bearer', 3600, 'checkout']);
      assert.doesNotMatch(res.body, /dev-shop-secret/);
      const created = await initiate(t, body.access_token, { orderItems: [item('basic-monthly')] });
      assert.equal(created.status, 200, created.raw);
    }
    for (const headers of <Record<string, string>[]>[
      { origin: 'https://evil.example', host: 'localhost:80' },
      { origin: 'http://localhost:81', host: 'localhost:80' },
      { origin: 'null', host: 'localhost:80' },
      { 'sec-fetch-site': 'cross-site', host: 'localhost:80' },
      { 'sec-fetch-site': 'same-site', host: 'localhost:80' },
      { origin: 'http://localhost:80', host: 'localhost:80', 'sec-fetch-site': 'cross-site' },
    ]) {
      const res = await demoToken(headers);
      assert.equal(res.statusCode, 403, JSON.stringify(headers));
      assert.deepEqual(res.json(), { message: 'The demo shop token is for the demo pages of this origin only' });
    }
  });

  it("reads the landing state's checkout basket: none, open, completed with its order; never a change's or another partner's", async () => {
    const token = (JSON.parse((await demoToken()).body) as { access_token: string }).access_token;
    const read = (cookie?: string, bearer: string | null = token) =>
      shopCall<DemoBasket>(t, 'GET', '/demo/shop/basket', { token: bearer, ...(cookie !== undefined ? { cookie } : {}) });

    expectMessage(await read(undefined, null), 401, 'Authorization header missing');
    expectMessage(await read(undefined, 'not-a-token'), 401);
    const none = await read();
    assert.equal(none.status, 200, none.raw);
    assert.deepEqual(none.body, { basket: null });
    assert.equal(none.headers['cache-control'], 'no-store');
    assert.deepEqual((await read('limio_state=garbage')).body, { basket: null });
    assert.deepEqual((await read('limio_state=basket-00000000-0000-4000-8000-000000000000')).body, { basket: null });

    const created = await initiate(t, token, { orderItems: [item('basic-monthly'), item('offer-prod-123', 2)] });
    assert.equal(created.status, 200, created.raw);
    const cookie = cookieOf(created);
    const open = await read(cookie);
    assert.equal(open.status, 200, open.raw);
    assert.ok(open.body.basket);
    assert.equal(open.body.basket.id, created.body.id);
    assert.equal(open.body.basket.status, 'open');
    assert.equal(open.body.basket.orderId, null);
    assert.deepEqual(
      open.body.basket.order.orderItems.map((i) => [i.name, i.quantity, i.total.amount]),
      [
        ['Offer basic-monthly', 1, 9.99],
        ['Red evening dress', 2, 259.8],
      ],
    );
    assert.deepEqual(open.body.basket.order.total, { amount: 269.79, currency: 'EUR' });

    // another partner's token does not see this basket
    const shopco = await shopToken(t, SHOPCO_CLIENT);
    assert.deepEqual((await read(cookie, shopco)).body, { basket: null });

    const order = await submit(t, token, created.body.id);
    assert.equal(order.status, 200, order.raw);
    const done = await read(cookie);
    assert.equal(done.body.basket?.status, 'completed');
    assert.equal(done.body.basket?.orderId, order.body.id);

    // the landing state of a subscription change is the account page's
    const change = await shopCall(t, 'POST', '/api/checkout/subscription', {
      token,
      headers: { 'x-limio-recaptcha': 'demo' },
      body: { order: { order_type: 'update_subscription', forSubscription: { id: 'sub-demo-basic' } } },
    });
    assert.equal(change.status, 200, change.raw);
    assert.deepEqual((await read(cookieOf(change))).body, { basket: null });
  });
  it('answers odd requests with a 4xx or as usual, never a 5xx', async () => {
    const token = (JSON.parse((await demoToken()).body) as { access_token: string }).access_token;
    const odd: Array<{ method: 'GET' | 'POST' | 'PUT'; url: string; headers?: Record<string, string>; payload?: string }> = [
      { method: 'POST', url: '/demo/shop/token', headers: { 'content-type': 'application/json' }, payload: '{not json' },
      { method: 'POST', url: '/demo/shop/token', headers: { 'content-type': 'text/plain' }, payload: 'x' },
      { method: 'POST', url: '/demo/shop/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' },
      { method: 'POST', url: '/demo/shop/token', headers: { 'content-type': 'application/json' }, payload: '{"a":"\\u0000"}' },
      { method: 'GET', url: '/demo/shop/token' },
      { method: 'PUT', url: '/demo/shop/basket', headers: { authorization: `Bearer ${token}` } },
      { method: 'GET', url: '/demo/shop/basket', headers: { authorization: `Bearer ${token}`, cookie: 'limio_state=%E0%A4%A' } },
      { method: 'GET', url: '/demo/shop/basket', headers: { authorization: `Bearer ${token}`, cookie: `limio_state=${'x'.repeat(5000)}` } },
      { method: 'GET', url: '/demo/shop/basket', headers: { authorization: `Bearer ${token}`, cookie: 'limio_state="{\\"basketId\\":1}"' } },
      { method: 'GET', url: '/demo/shop/basket', headers: { authorization: 'Bearer ' } },
      { method: 'GET', url: '/demo/shop/account?subscription[a]=1&subscription=%00' },
      { method: 'GET', url: `/demo/shop/account?subscription=${'é'.repeat(5000)}` },
      { method: 'GET', url: '/demo/shop?jayToken=%ZZ' },
      { method: 'GET', url: '/demo/shop/nothing-here' },
    ];
    for (const request of odd) {
      const res = await t.server.app.inject(request);
      assert.ok(res.statusCode < 500, `${request.method} ${request.url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
    }
  });
});

describe('demo shop without the development partner', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ DEV_PARTNER: 'false' });
  });
  after(() => t?.close());

  it('is not served: 404', async () => {
    for (const url of PATHS) {
      const res = await t.server.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
    }
    assert.equal((await t.server.app.inject({ method: 'POST', url: '/demo/shop/token' })).statusCode, 404);
  });
});
