/**
 * Basket webhooks (issue 22) through the real server on TEST_STORE, delivered by the outbox worker (run by hand
 * on the test clock) to a local receiving HTTP server: `basket.changed` coalesced per window, signed and retried;
 * `basket.abandoned` after the idle time with a working recovery link, re-checked at delivery; the operator's replay.
 */
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { verifySignature } from '../../src/service/orders.js';
import { ADMIN_KEY, OPEN_KEY, TEST_PARTNERS, startTestServer, userHeaders, type TestServer } from './harness.js';

const SECRET = 'basket-webhook-secret-0123456789';
const LANDING = 'https://shop.open.example/landing';

interface Delivery {
  id: string;
  signature: string;
  raw: string;
  body: {
    event: string;
    userId: string;
    version: number;
    basket: { cart: { productId: string; count: number }[] } | null;
    recoveryUrl?: string | null;
    idleSince?: string;
  };
}

let t: TestServer;
let receiver: HttpServer;
const deliveries: Delivery[] = [];
/** Statuses the receiver answers next (then 204). */
const failNext: number[] = [];

before(async () => {
  receiver = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const status = failNext.shift();
      if (status !== undefined) {
        res.writeHead(status).end();
        return;
      }
      deliveries.push({ id: String(req.headers['x-basket-delivery-id']), signature: String(req.headers['x-basket-signature']), raw, body: JSON.parse(raw) as Delivery['body'] });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/baskets`;
  const partners = TEST_PARTNERS.map((p) => (p.id === 'open' ? { ...p, basketWebhookUrl: url, basketWebhookSecret: SECRET, landingUrl: LANDING } : p));
  t = await startTestServer({ PARTNERS_JSON: JSON.stringify(partners), BASKET_WEBHOOK_WINDOW: '10s', BASKET_ABANDONED_AFTER: '1m', BASKET_RECOVERY_TTL: '7d' });
});
after(async () => {
  await t.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

async function assign(userId: string, productId: string, count: number): Promise<void> {
  const res = await t.server.app.inject({
    method: 'POST',
    url: `/v2/baskets/users/${userId}/products/${productId}`,
    headers: userHeaders(OPEN_KEY, await t.openToken(userId), { 'content-type': 'application/json' }),
    payload: JSON.stringify({ count }),
  });
  assert.equal(res.statusCode, 200, res.body);
}

/** Moves the clock on and runs the outbox until nothing more is due. */
async function advance(ms: number): Promise<void> {
  await t.server.basketWebhooks.settled();
  t.clock.now += ms;
  while ((await t.server.outbox.runOnce()) > 0) {
    /* until drained */
  }
}

const of = (userId: string, event?: string) => deliveries.filter((d) => d.body.userId === userId && (event === undefined || d.body.event === event));

describe('basket.changed', () => {
  it('many changes in a window: one signed delivery with the latest state, when the window ends', async () => {
    const user = 'wh-changed';
    await assign(user, 'a', 1);
    await assign(user, 'b', 2);
    await assign(user, 'a', 3);
    await advance(5_000);
    assert.equal(of(user).length, 0, 'nothing before the window ends');
    await advance(5_000);
    const got = of(user, 'basket.changed');
    assert.equal(got.length, 1);
    const d = got[0]!;
    assert.equal(d.body.version, 3);
    assert.deepEqual(d.body.basket?.cart.map((l) => `${l.productId}:${l.count}`), ['a:3', 'b:2']);
    assert.match(d.id, /^changed:\d+:open:wh-changed$/);
    assert.ok(verifySignature(SECRET, d.signature, d.raw, Math.floor(t.clock.now / 1000)), 'signed with the partner secret');
    assert.equal(verifySignature('another-secret-0123456789', d.signature, d.raw, Math.floor(t.clock.now / 1000)), false);

    // a change in the next window: a delivery of its own
    await assign(user, 'c', 1);
    await advance(10_000);
    assert.deepEqual(of(user, 'basket.changed').map((x) => x.body.version), [3, 4]);
  });

  it('a failed delivery is retried through the outbox until the receiver takes it', async () => {
    const user = 'wh-retry';
    await assign(user, 'a', 1);
    failNext.push(500, 503);
    await advance(10_000);
    assert.equal(of(user, 'basket.changed').length, 0);
    await advance(5_000);
    assert.equal(of(user, 'basket.changed').length, 0, 'second attempt failed too');
    await advance(10_000);
    assert.deepEqual(of(user, 'basket.changed').map((x) => x.body.version), [1]);
  });
});

describe('basket.abandoned', () => {
  it('after BASKET_ABANDONED_AFTER without a change: one delivery with a recovery link that opens the basket', async () => {
    const user = 'wh-idle';
    await assign(user, 'a', 2);
    await advance(10_000 + 30_000);
    assert.equal(of(user, 'basket.abandoned').length, 0, 'not idle long enough yet');
    await advance(30_000);
    const got = of(user, 'basket.abandoned');
    assert.equal(got.length, 1);
    const d = got[0]!;
    assert.equal(d.body.version, 1);
    assert.deepEqual(d.body.basket?.cart, [{ productId: 'a', count: 2 }]);
    assert.ok(verifySignature(SECRET, d.signature, d.raw, Math.floor(t.clock.now / 1000)));
    const recovery = new URL(d.body.recoveryUrl!);
    assert.equal(`${recovery.origin}${recovery.pathname}`, LANDING);
    const jayToken = recovery.searchParams.get('jayToken')!;
    // a week later the link still redeems, once, into the basket itself
    t.clock.now += 6 * 86_400_000;
    const redeemed = await t.server.app.inject({ method: 'POST', url: `/v2/baskets/guests?jayToken=${encodeURIComponent(jayToken)}`, headers: { 'x-api-key': OPEN_KEY } });
    assert.equal(redeemed.statusCode, 200, redeemed.body);
    assert.deepEqual((redeemed.json() as { data: { basket: { cart: unknown } } }).data.basket.cart, [{ productId: 'a', count: 2 }]);
    await advance(3_600_000);
    assert.equal(of(user, 'basket.abandoned').length, 1, 'once per idle period');
  });

  it('re-checked at delivery: a basket changed since is not abandoned then, but after its own idle time', async () => {
    const user = 'wh-busy';
    await assign(user, 'a', 1);
    await advance(30_000);
    await assign(user, 'b', 1);
    // the first window's message comes due now: the basket changed since, so nothing is sent
    await advance(40_000);
    assert.equal(of(user, 'basket.abandoned').length, 0);
    await advance(30_000);
    const got = of(user, 'basket.abandoned');
    assert.equal(got.length, 1);
    assert.equal(got[0]!.body.version, 2);
  });

  it('an emptied cart is not abandoned', async () => {
    const user = 'wh-empty';
    await assign(user, 'a', 1);
    await assign(user, 'a', -1);
    await advance(200_000);
    assert.equal(of(user, 'basket.abandoned').length, 0);
    assert.equal(of(user, 'basket.changed').length, 1);
  });
});

describe('POST /admin/webhooks:replay', () => {
  const replay = (body: unknown, key = ADMIN_KEY) =>
    t.server.app.inject({ method: 'POST', url: '/admin/webhooks:replay?partner=open', headers: { 'x-admin-key': key, 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  it('sends the current state again, by delivery id or user id', async () => {
    const user = 'wh-replay';
    await assign(user, 'a', 1);
    await advance(10_000);
    const lost = of(user, 'basket.changed')[0]!;
    await assign(user, 'a', 5);
    const res = await replay({ deliveryIds: [lost.id], userIds: ['wh-changed'] });
    assert.equal(res.statusCode, 200, res.body);
    const data = (res.json() as { data: { queued: number; deliveryIds: string[] } }).data;
    assert.equal(data.queued, 2);
    await advance(0);
    const again = of(user, 'basket.changed').find((d) => data.deliveryIds.includes(d.id));
    assert.ok(again, 'delivered under a new id');
    assert.match(again.id, /^replay:[0-9a-f-]+:open:wh-replay$/);
    assert.equal(again.body.version, 2, 'the current state');
    assert.ok(of('wh-changed').some((d) => data.deliveryIds.includes(d.id)));
  });

  it('refuses a foreign delivery id, an empty request (422 3002) and a missing admin key (401)', async () => {
    const foreign = await replay({ deliveryIds: ['changed:1:acme:u'] });
    assert.equal(foreign.statusCode, 422);
    assert.equal((foreign.json() as { error: { code: number } }).error.code, 3002);
    assert.equal((await replay({})).statusCode, 422);
    assert.equal((await replay({ userIds: ['x'] }, 'wrong-admin-key')).statusCode, 401);
  });
});
