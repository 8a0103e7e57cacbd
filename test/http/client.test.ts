/**
 * The TypeScript client (clients/typescript, issue 21) against a real listening server: its generated types match
 * the document the server serves (drift), and the whole device journey runs through it, typed end to end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BasketApiError, createBasketClient, type Basket, type BasketClient, type Guest } from '../../clients/typescript/src/index.js';
import { DEMO_KEY, startTestServer, TEST_STORE, type TestServer } from './harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLIENT = path.join(ROOT, 'clients/typescript');
let t: TestServer;
let base: string;
let device: BasketClient;

before(async () => {
  t = await startTestServer({ PORT: '0' });
  base = await t.server.listen();
  device = createBasketClient({ baseUrl: base, apiKey: DEMO_KEY, apiVersion: '2025-09-15' });
});
after(() => t.close());

const lines = (b: Basket, list: 'cart' | 'saved' | 'checkout') => b[list].map((l) => `${l.productId}:${l.count}`);

describe('the TypeScript client', () => {
  it(
    'has types generated from the document this server serves (no drift)',
    { skip: TEST_STORE !== 'sqlite' && 'the document does not depend on the store' },
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'basket-client-'));
      try {
        const out = path.join(dir, 'schema.d.ts');
        // the command of `npm run generate` in clients/typescript, against this server
        await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'), `${base}/openapi.json`, '-o', out], { cwd: CLIENT });
        const committed = readFileSync(path.join(CLIENT, 'src/schema.d.ts'), 'utf8');
        assert.ok(
          readFileSync(out, 'utf8') === committed,
          'clients/typescript/src/schema.d.ts is not what the document generates: start the server (npm run dev) and run ' +
            '`npm run generate` in clients/typescript (BASKET_OPENAPI=<url of /openapi.json> for another address), then commit it',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('drives the device journey: guest, products, assign, update, get, transfer, redeem, checkout, orders, delete', async () => {
    // a guest with one product in the cart
    const created = await device.POST('/v2/baskets/guests', { body: { products: [{ productId: 'prod-123', count: 1 }] } });
    assert.ok(!created.error, created.error?.message);
    const guest: Guest = created.data;
    assert.deepEqual(lines(guest.basket, 'cart'), ['prod-123:1']);
    assert.equal(created.response.headers.get('x-api-version'), '2025-09-15');
    const user = device.withToken(guest.token);
    const userId = guest.userId;

    const details = await device.POST('/v2/baskets/products/details', { body: ['prod-123', 'prod-789', 'no-such-product'] });
    assert.ok(!details.error);
    assert.deepEqual(details.data.products.map((p) => p.productId).sort(), ['prod-123', 'prod-789']);

    const path123 = { params: { path: { userId, productId: 'prod-123' } } };
    const path789 = { params: { path: { userId, productId: 'prod-789' } } };
    const assigned = await user.POST('/v2/baskets/users/{userId}/products/{productId}', { ...path123, body: { count: 2 } });
    assert.ok(!assigned.error);
    assert.deepEqual(lines(assigned.data, 'cart'), ['prod-123:2']);
    // the body is optional: a count of 1
    const bare = await user.POST('/v2/baskets/users/{userId}/products/{productId}', path789);
    assert.ok(!bare.error, bare.error?.message);
    assert.deepEqual(lines(bare.data, 'cart'), ['prod-123:2', 'prod-789:1']);
    const updated = await user.PATCH('/v2/baskets/users/{userId}/products/{productId}', { ...path789, body: { count: 0 } });
    assert.ok(!updated.error);
    assert.deepEqual(lines(updated.data, 'saved'), ['prod-789:1']);

    const got = await user.GET('/v2/baskets/users/{userId}', { params: { path: { userId } } });
    assert.ok(!got.error);
    assert.deepEqual(lines(got.data, 'cart'), ['prod-123:2']);
    assert.equal(got.nextToken, null);

    // transfer with a QR code; the PNG through the client
    const transfer = await user.POST('/v2/baskets/users/{userId}/transfer', { params: { path: { userId }, query: { qr: 'true' } } });
    assert.ok(!transfer.error, transfer.error?.message);
    const { jayToken } = transfer.data;
    const png = await device.GET('/v2/baskets/transfers/{jayToken}/qr.png', { params: { path: { jayToken } }, parseAs: 'blob' });
    assert.ok(!png.error);
    assert.equal(png.response.headers.get('content-type'), 'image/png');
    assert.deepEqual([...new Uint8Array(await png.data.arrayBuffer()).subarray(1, 4)], [...Buffer.from('PNG')]);

    // redeemed once: guest credentials for the transferred basket
    const redeemed = await device.GET('/v2/baskets/guests', { params: { query: { jayToken } } });
    assert.ok(!redeemed.error, redeemed.error?.message);
    assert.deepEqual(lines(redeemed.data.basket, 'cart'), ['prod-123:2']);
    // twice: the typed error, 410 `2017`
    const again = await device.GET('/v2/baskets/guests', { params: { query: { jayToken } } });
    assert.ok(again.error instanceof BasketApiError);
    assert.equal(again.error.status, 410);
    assert.equal(again.error.code, 2017);
    assert.equal(again.error.details, 'TRANSFER_TOKEN_INVALID');
    assert.match(again.error.requestId ?? '', /.+/);

    // checkout on the redeemed basket (its own guest), with an Idempotency-Key
    const shopper = device.withToken(redeemed.data.token);
    const shopperId = redeemed.data.userId;
    const userPath = { params: { path: { userId: shopperId } } };
    const started = await shopper.POST('/v2/baskets/users/{userId}/checkout/sessions', {
      params: { path: { userId: shopperId }, query: { testMode: 'true' }, header: { 'Idempotency-Key': 'journey-1' } },
      body: { language: 'en', country: 'DE' },
    });
    assert.ok(!started.error, started.error?.message);
    assert.equal(started.data.status, 'pending_payment');
    assert.deepEqual(
      started.data.checkout.map((l) => [l.productId, l.count]),
      [['prod-123', 2]],
    );
    const { orderNo } = started.data;
    // locked while the checkout runs: 423
    const locked = await shopper.DELETE('/v2/baskets/users/{userId}', userPath);
    assert.equal(locked.error?.status, 423);
    assert.equal(locked.error?.code, 423);

    const finished = await shopper.POST('/v2/baskets/users/{userId}/checkout/sessions/finish-active', { ...userPath, body: { ordered: true } });
    assert.ok(!finished.error, finished.error?.message);
    assert.deepEqual(finished.data.checkout, []);

    const orders = await shopper.GET('/v2/baskets/users/{userId}/orders', { params: { path: { userId: shopperId }, query: { limit: '10' } } });
    assert.ok(!orders.error);
    assert.deepEqual(
      orders.data.orders.map((o) => o.orderNo),
      [orderNo],
    );
    const order = await shopper.GET('/v2/baskets/users/{userId}/orders/{orderNo}', { params: { path: { userId: shopperId, orderNo } } });
    assert.ok(!order.error);
    assert.equal(order.data.lines[0]?.productId, 'prod-123');

    const deleted = await user.DELETE('/v2/baskets/users/{userId}', { params: { path: { userId } } });
    assert.ok(!deleted.error, deleted.error?.message);
    assert.deepEqual(deleted.data.cart, []);
    assert.deepEqual(deleted.data.saved, []);
  });

  it('answers refusals as typed errors: a wrong key, another user, an unsupported version', async () => {
    const wrongKey = createBasketClient({ baseUrl: base, apiKey: 'nope' });
    const r = await wrongKey.GET('/v2/baskets/users/{userId}', { params: { path: { userId: 'u1' } } });
    assert.equal(r.error?.status, 401);
    assert.equal(r.error?.code, 2023);
    const other = device.withToken(await t.demoToken('someone-else'));
    const mismatch = await other.GET('/v2/baskets/users/{userId}', { params: { path: { userId: 'u1' } } });
    assert.equal(mismatch.error?.code, 2019);
    const version = await device.GET('/healthz', { params: { header: { 'X-API-Version': '2025-07-21' } } });
    assert.ok(!version.error);
    assert.equal(version.data.status, 'ok');
  });
});
