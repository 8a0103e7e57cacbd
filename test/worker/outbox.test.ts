/**
 * The outbox worker: order delivery to a local receiving server that fails the first tries (retries with
 * exponential backoff on the test clock, HMAC-signed body), and exclusive claims between two workers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../src/service/orders.js';
import { backoffMs, OutboxWorker } from '../../src/worker/outbox.js';
import { sign, startTestServer, TEST_PARTNERS, userHeaders, type TestServer } from '../http/harness.js';

const HOOK_SECRET = 'order-hook-secret-0123456789';
const KEY = 'hook-api-key-0001';
const SECRET = new TextEncoder().encode('hook-partner-secret-0123456789');

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
const received: Received[] = [];
let failures = 2;
let receiver: HttpServer;
let t: TestServer;

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      if (failures > 0) {
        failures--;
        res.writeHead(503).end('try later');
      } else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/orders`;
  t = await startTestServer({
    PARTNERS_JSON: JSON.stringify([
      ...TEST_PARTNERS,
      { id: 'hook', apiKeys: [KEY], jwt: { secret: 'hook-partner-secret-0123456789' }, orderWebhookUrl: url, orderWebhookSecret: HOOK_SECRET },
    ]),
  });
  await t.server.store.upsertProducts('hook', [
    { productId: 'mug', variant: null, mainProductIdentifier: null, name: 'Mug', brand: null, price: 999, currency: 'EUR', taxRateBp: 700, stock: 5, shopSource: null, slug: null, images: [] },
  ]);
});
after(async () => {
  await t.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

async function call(url: string, user: string, body: unknown) {
  const now = Math.floor(t.clock.now / 1000);
  const token = await sign(SECRET, 'HS256', {}, { sub: user, iat: now, exp: now + 3600 });
  const res = await t.server.app.inject({ method: 'POST', url, headers: userHeaders(KEY, token, { 'content-type': 'application/json' }), payload: JSON.stringify(body) });
  return { status: res.statusCode, body: res.json() };
}

describe('order delivery', () => {
  it('retries with backoff until the receiver accepts, signed with HMAC-SHA256', async () => {
    assert.equal((await call('/v2/baskets/users/w1/products/mug', 'w1', { count: 2 })).status, 200);
    const started = await call('/v2/baskets/users/w1/checkout/sessions', 'w1', {});
    assert.equal(started.status, 200);
    assert.equal((await call('/v2/baskets/users/w1/checkout/sessions/finish-active', 'w1', { ordered: true })).status, 200);

    await t.server.outbox.runOnce(); // first try: 503
    assert.equal(received.length, 1);
    await t.server.outbox.runOnce(); // not due yet: backoff
    assert.equal(received.length, 1);
    t.clock.now += backoffMs(1, 5_000, 3_600_000);
    await t.server.outbox.runOnce(); // second try: 503
    assert.equal(received.length, 2);
    t.clock.now += backoffMs(2, 5_000, 3_600_000) - 1;
    await t.server.outbox.runOnce();
    assert.equal(received.length, 2, 'the second backoff is twice the first');
    t.clock.now += 1;
    await t.server.outbox.runOnce(); // third try: accepted
    assert.equal(received.length, 3);
    t.clock.now += 3_600_000;
    await t.server.outbox.runOnce();
    assert.equal(received.length, 3, 'delivered once accepted, never again');

    const last = received[2]!;
    const body = JSON.parse(last.body);
    assert.equal(body.event, 'order.ordered');
    assert.equal(body.order.orderNo, started.body.data.orderNo);
    assert.equal(body.order.fullPrice, 19.98); // 2 × 9.99, no shipping configured for this partner
    assert.equal(last.headers['x-basket-delivery-id'], `hook/${started.body.data.orderNo}/ordered`);
    const sig = last.headers['x-basket-signature'] as string;
    assert.match(sig, /^t=\d+,v1=[0-9a-f]{64}$/);
    const ts = Number(/t=(\d+)/.exec(sig)![1]);
    assert.ok(verifySignature(HOOK_SECRET, sig, last.body, ts));
    assert.ok(!verifySignature(HOOK_SECRET, sig, last.body.replace('ordered', 'cancelled'), ts));
    assert.ok(!verifySignature('another-secret-0123456789', sig, last.body, ts));
  });
});

describe('outbox claims', () => {
  it('two workers never handle one message twice; a failed handler is retried later', async () => {
    const seen: string[] = [];
    let failOnce = true;
    const handlers = {
      'test.topic': async (payload: unknown) => {
        const k = (payload as { k: string }).k;
        if (k === 'flaky' && failOnce) {
          failOnce = false;
          throw new Error('flaky');
        }
        seen.push(k);
      },
    };
    const log = { info() {}, warn() {}, error() {} };
    const a = new OutboxWorker({ store: t.server.store, handlers, now: () => t.clock.now, log, batch: 7 });
    const b = new OutboxWorker({ store: t.server.store, handlers, now: () => t.clock.now, log, batch: 7 });
    const keys = Array.from({ length: 40 }, (_, i) => `m${i}`);
    await t.server.store.enqueue([...keys, 'flaky'].map((k) => ({ topic: 'test.topic', key: k, payload: { k }, availableAt: t.clock.now })));
    for (let i = 0; i < 10; i++) await Promise.all([a.runOnce(), b.runOnce()]);
    assert.deepEqual([...seen].sort(), [...keys].sort());
    t.clock.now += 5_000;
    await a.runOnce();
    assert.equal(seen.filter((k) => k === 'flaky').length, 1);
    assert.equal(new Set(seen).size, seen.length);
  });
});

describe('stopping the worker (SIGTERM)', () => {
  it('finishes the message being handled, gives the rest of its batch back at once, and claims nothing more', async () => {
    const log = { info() {}, warn() {}, error() {} };
    const handled: string[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const a = new OutboxWorker({
      store: t.server.store,
      now: () => t.clock.now,
      log,
      batch: 3,
      handlers: {
        'stop.topic': async (payload: unknown) => {
          const k = (payload as { k: string }).k;
          if (k === 's0') {
            entered();
            await blocked; // the message in hand when the worker is told to stop
          }
          handled.push(k);
        },
      },
    });
    await t.server.store.enqueue(['s0', 's1', 's2'].map((k, i) => ({ topic: 'stop.topic', key: k, payload: { k }, availableAt: t.clock.now + i })));
    t.clock.now += 10;
    const pass = a.runOnce();
    await inHandler;
    let stopped = false;
    const stopping = a.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(stopped, false, 'stop waits for the message in hand');
    release();
    await stopping;
    assert.equal(await pass, 1);
    assert.deepEqual(handled, ['s0']);
    assert.equal(await a.runOnce(), 0, 'a stopped worker claims nothing');

    // s1 and s2 are due again now, for another worker, without waiting for their lease (60 s) to lapse
    const rest: string[] = [];
    const b = new OutboxWorker({ store: t.server.store, now: () => t.clock.now, log, handlers: { 'stop.topic': async (p: unknown) => void rest.push((p as { k: string }).k) } });
    assert.equal(await b.runOnce(), 2);
    assert.deepEqual(rest.sort(), ['s1', 's2']);
    assert.equal(await b.runOnce(), 0, 's0 was completed, not given back');
  });
});
