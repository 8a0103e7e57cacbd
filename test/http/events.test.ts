/**
 * Tracking events through the real server (issue 23): journeys with and without `X-JAY-Tracking` / `provider_id`
 * yield the expected events and funnel numbers from the admin API; the admin API's auth, paging and JSON lines;
 * the seeds' own spellings (`/baskets/gusts`, `"mode": "test"`); delivery to a partner's analytics webhook; and
 * the purge after EVENTS_TTL.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DEV_PARTNER } from '../../src/config.js';
import { verifySignature } from '../../src/service/orders.js';
import { startSweeper } from '../../src/worker/sweeper.js';
import { ADMIN_KEY, DEMO_KEY, OPEN_KEY, sign, startTestServer, TEST_PARTNERS, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ANA_KEY = 'ana-api-key-0001';
const ANA_SECRET = 'ana-partner-secret-0123456789';
const ANA_HOOK_SECRET = 'ana-analytics-secret-0123';

/** A local analytics endpoint: records what it receives, answers with the statuses queued (then 204). */
interface Hook {
  server: HttpServer;
  url: string;
  received: { headers: IncomingMessage['headers']; body: string }[];
  statuses: number[];
}

async function startHook(): Promise<Hook> {
  const hook = { received: [], statuses: [] } as unknown as Hook;
  hook.server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      hook.received.push({ headers: req.headers, body });
      res.statusCode = hook.statuses.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => hook.server.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/hook`;
  return hook;
}

const tracking = (o: Record<string, unknown>) => Buffer.from(JSON.stringify(o)).toString('base64');
const SEED_TRACKING = 'eyJzZXNzaW9uX2lkIjoiZXhhbXBsZS1zZXNzaW9uLWlkLTEyMzQiLCJzdGFydF90aW1lIjoiMjAyNS0wMS0wMVQxMjowMDowMC4wMDAwMDAiLCJzb3VyY2UiOiJqYXkuYXBpLnBsYXlvdXQuZXhhbXBsZSJ9';

let t: TestServer;
let hook: Hook;
before(async () => {
  hook = await startHook();
  const ana = { id: 'ana', apiKeys: [ANA_KEY], jwt: { secret: ANA_SECRET }, analyticsWebhookUrl: hook.url, analyticsWebhookSecret: ANA_HOOK_SECRET };
  t = await startTestServer({ PARTNERS_JSON: JSON.stringify([...TEST_PARTNERS, ana]) });
});
after(async () => {
  await t.close();
  await new Promise((resolve) => hook.server.close(resolve));
});

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string>, body?: unknown) {
  const res = await t.server.app.inject({
    method,
    url,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<Any>, headers: res.headers, text: res.body };
}

const demo = async (user: string, extra: Record<string, string> = {}) => userHeaders(DEMO_KEY, await t.demoToken(user), extra);
const admin = (url: string, extra: Record<string, string> = {}) => t.server.app.inject({ method: 'GET', url, headers: { 'x-admin-key': ADMIN_KEY, ...extra } });

async function eventsOf(partner: string, user: string): Promise<Any[]> {
  const res = await admin(`/admin/events?partner=${partner}&limit=1000`);
  assert.equal(res.statusCode, 200, res.body);
  const pseudonym = t.server.events.pseudonym(partner, user);
  return (res.json() as EnvelopeBody<{ events: Any[] }>).data.events.filter((e) => e.user === pseudonym);
}

const pick = (e: Any, keys: string[]) => Object.fromEntries(keys.map((k) => [k, e[k]]));

describe('a journey with tracking headers', () => {
  const S = `show-${Date.now()}`;
  const source = 'jay.api.playout.example';
  const viaHeader = tracking({ session_id: S, start_time: '2025-01-01T12:00:00.000000', source, provider_id: 'netflix' });
  const noProvider = tracking({ session_id: S, start_time: '2025-01-01T12:00:00.000000', source });
  let paidAmount = 0;

  before(async () => {
    // v1: the provider comes with the session; buys
    const h1 = await demo('trk-viewer-1', { 'x-jay-tracking': viaHeader });
    assert.equal((await call('POST', '/v2/baskets/users/trk-viewer-1/products/prod-123', h1, { count: 2 })).status, 200);
    assert.equal((await call('PATCH', '/v2/baskets/users/trk-viewer-1/products/prod-123', h1, { count: 1 })).status, 200);
    assert.equal((await call('POST', '/v2/baskets/users/trk-viewer-1/products/prod-789', h1, { count: 0 })).status, 200);
    const started = await call('POST', '/v2/baskets/users/trk-viewer-1/checkout/sessions?testMode=true', h1, {});
    assert.equal(started.status, 200, started.text);
    paidAmount = Math.round(started.body.data.fullPrice * 100);
    assert.equal((await call('POST', '/v2/baskets/users/trk-viewer-1/checkout/sessions/finish-active', h1, { ordered: true })).status, 200);
    // v2: the provider only as provider_id (the session has none); adds, starts a checkout, aborts it
    const h2 = await demo('trk-viewer-2', { 'x-jay-tracking': noProvider });
    assert.equal((await call('POST', '/v2/baskets/users/trk-viewer-2/products/prod-123?provider_id=prime', h2, { count: 1 })).status, 200);
    assert.equal((await call('POST', '/v2/baskets/users/trk-viewer-2/products/prod-456?provider_id=prime', h2, {})).status, 200);
    assert.equal((await call('DELETE', '/v2/baskets/users/trk-viewer-2/products/prod-456?provider_id=prime', h2)).status, 200);
    assert.equal((await call('POST', '/v2/baskets/users/trk-viewer-2/checkout/sessions?testMode=true&provider_id=prime', h2, {})).status, 200);
    assert.equal((await call('POST', '/v2/baskets/users/trk-viewer-2/checkout/sessions/finish-active?provider_id=prime', h2, { ordered: false })).status, 200);
  });

  it('records one event per action, attributed to the session and provider, with a pseudonym for the user', async () => {
    const events = await eventsOf('demo', 'trk-viewer-1');
    const keys = ['action', 'productId', 'count', 'outcome', 'sessionId', 'startTime', 'source', 'provider', 'tracking', 'apiVersion'];
    const attributed = { sessionId: S, startTime: '2025-01-01T12:00:00.000000', source, provider: 'netflix', tracking: 'ok', apiVersion: '2025-09-15' };
    assert.deepEqual(
      events.map((e) => pick(e, keys)),
      [
        { action: 'assign', productId: 'prod-123', count: 2, outcome: null, ...attributed },
        { action: 'update', productId: 'prod-123', count: 1, outcome: null, ...attributed },
        { action: 'assign', productId: 'prod-789', count: 0, outcome: null, ...attributed },
        { action: 'checkout_start', productId: null, count: null, outcome: null, ...attributed },
        { action: 'order_paid', productId: null, count: null, outcome: null, ...attributed },
        { action: 'checkout_finish', productId: null, count: null, outcome: 'ordered', ...attributed },
      ],
    );
    const order = events.filter((e) => e.orderNo !== null);
    assert.equal(order.length, 3);
    for (const e of order) assert.deepEqual(pick(e, ['orderNo', 'amount', 'currency']), { orderNo: order[0]!.orderNo, amount: paidAmount, currency: 'EUR' });
    assert.match(events[0]!.user, /^[0-9a-f]{32}$/);
    assert.notEqual(t.server.events.pseudonym('acme', 'trk-viewer-1'), events[0]!.user, 'pseudonyms differ per partner');
  });

  it('falls back to provider_id when the session names no provider; orders cancelled are events too', async () => {
    const events = await eventsOf('demo', 'trk-viewer-2');
    assert.deepEqual(
      events.map((e) => [e.action, e.provider, e.sessionId, e.outcome]),
      [
        ['assign', 'prime', S, null],
        ['assign', 'prime', S, null],
        ['remove', 'prime', S, null],
        ['checkout_start', 'prime', S, null],
        ['order_cancelled', 'prime', S, null],
        ['checkout_finish', 'prime', S, 'aborted'],
      ],
    );
  });

  it('holds no raw user id, token or address', async () => {
    const res = await admin('/admin/events?partner=demo&limit=1000');
    assert.doesNotMatch(res.body, /trk-viewer|eyJ|127\.0\.0\.1/);
  });

  it('answers "how many viewers of session S on provider P added, checked out and paid, for how much"', async () => {
    const res = await admin(`/admin/reports/providers?partner=demo&session=${S}`);
    assert.equal(res.statusCode, 200, res.body);
    const data = (res.json() as EnvelopeBody<Any>).data;
    assert.equal(data.session, S);
    assert.deepEqual(data.providers, [
      { provider: 'netflix', source, adds: 2, users: 1, checkoutsStarted: 1, ordersPaid: 1, paidValue: paidAmount, currency: 'EUR' },
      { provider: 'prime', source, adds: 2, users: 1, checkoutsStarted: 1, ordersPaid: 0, paidValue: 0, currency: null },
    ]);
    // a range before the journey holds none of it
    const before = await admin(`/admin/reports/providers?partner=demo&session=${S}&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z`);
    assert.deepEqual((before.json() as EnvelopeBody<Any>).data.providers, []);
  });
});

describe('a journey without tracking headers', () => {
  it('still records events, attributed to no session and no provider', async () => {
    const h = userHeaders(OPEN_KEY, await t.openToken('plain-1'));
    assert.equal((await call('POST', '/v2/baskets/users/plain-1/products/anything', h, { count: 3 })).status, 200);
    assert.equal((await call('DELETE', '/v2/baskets/users/plain-1', h)).status, 200);
    const events = await eventsOf('open', 'plain-1');
    assert.deepEqual(
      events.map((e) => pick(e, ['action', 'productId', 'count', 'sessionId', 'source', 'provider', 'tracking'])),
      [
        { action: 'assign', productId: 'anything', count: 3, sessionId: null, source: null, provider: null, tracking: 'absent' },
        { action: 'clear', productId: null, count: null, sessionId: null, source: null, provider: null, tracking: 'absent' },
      ],
    );
    const report = await admin('/admin/reports/providers?partner=open');
    assert.deepEqual((report.json() as EnvelopeBody<Any>).data.providers, [
      { provider: null, source: null, adds: 1, users: 1, checkoutsStarted: 0, ordersPaid: 0, paidValue: 0, currency: null },
    ]);
  });

  it('an undecodable header never fails the request: the event says so, provider_id still attributes it', async () => {
    for (const [i, value] of ['%%%not-base64', Buffer.from('[1,2]').toString('base64'), Buffer.from('{"session_id":').toString('base64')].entries()) {
      const user = `garbled-${i}`;
      const h = userHeaders(OPEN_KEY, await t.openToken(user), { 'x-jay-tracking': value });
      assert.equal((await call('POST', `/v2/baskets/users/${user}/products/p1?provider_id=netflix`, h, {})).status, 200);
      const [e] = await eventsOf('open', user);
      assert.deepEqual(pick(e!, ['tracking', 'provider', 'sessionId']), { tracking: 'undecodable', provider: 'netflix', sessionId: null });
    }
  });

  it('decodes the seeds\' own example header', async () => {
    const h = userHeaders(OPEN_KEY, await t.openToken('seed-1'), { 'x-jay-tracking': SEED_TRACKING, 'x-jay-api-version': '2025-07-21' });
    assert.equal((await call('PATCH', '/v2/baskets/users/seed-1/products/p1', h, { count: 1 })).status, 404); // not in the basket: no event
    assert.equal((await call('POST', '/v2/baskets/users/seed-1/products/p1', h, {})).status, 200);
    const events = await eventsOf('open', 'seed-1');
    assert.deepEqual(
      events.map((e) => pick(e, ['action', 'sessionId', 'startTime', 'source', 'provider', 'tracking', 'apiVersion'])),
      [
        {
          action: 'assign',
          sessionId: 'example-session-id-1234',
          startTime: '2025-01-01T12:00:00.000000',
          source: 'jay.api.playout.example',
          provider: null,
          tracking: 'ok',
          apiVersion: '2025-07-21',
        },
      ],
    );
  });
});

describe('the admin event API', () => {
  it('needs the admin key and a known partner', async () => {
    const none = await t.server.app.inject({ method: 'GET', url: '/admin/events?partner=demo' });
    assert.equal(none.statusCode, 401);
    assert.equal((none.json() as EnvelopeBody).error?.code, 2023);
    const wrong = await admin('/admin/reports/providers?partner=demo', { 'x-admin-key': 'not-the-admin-key' });
    assert.equal(wrong.statusCode, 401);
    const unknown = await admin('/admin/events?partner=nobody');
    assert.equal(unknown.statusCode, 422);
    const badCursor = await admin('/admin/events?partner=demo&after=not-a-cursor');
    assert.equal(badCursor.statusCode, 422);
    assert.equal((badCursor.json() as EnvelopeBody).error?.code, 3002);
    const badTime = await admin('/admin/reports/providers?partner=demo&from=yesterday');
    assert.equal(badTime.statusCode, 422);
    const reversed = await admin('/admin/reports/providers?partner=demo&from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z');
    assert.equal(reversed.statusCode, 422);
  });

  it('pages with a keyset cursor, in JSON and as JSON lines', async () => {
    const h = userHeaders(OPEN_KEY, await t.openToken('pager'));
    for (const p of ['a', 'b', 'c', 'd', 'e']) assert.equal((await call('POST', `/v2/baskets/users/pager/products/${p}`, h, {})).status, 200);
    const all = (await eventsOf('open', 'pager')).map((e) => e.id);
    assert.equal(all.length, 5);
    // page through everything of the partner two at a time, following nextToken, then as JSON lines
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const res = await admin(`/admin/events?partner=open&limit=2${after ? `&after=${after}` : ''}`);
      const body = res.json() as EnvelopeBody<{ events: Any[] }>;
      seen.push(...body.data.events.map((e) => e.id));
      if (body.data.events.length < 2) {
        assert.equal(body.nextToken, body.data.events.length === 0 ? null : body.data.events.at(-1)!.id);
        break;
      }
      after = body.nextToken;
    }
    assert.deepEqual(seen.filter((id) => all.includes(id)), all);
    assert.equal(new Set(seen).size, seen.length);
    const lines = await admin(`/admin/events?partner=open&limit=3&after=${encodeURIComponent(seen[0]!)}`, { accept: 'application/x-ndjson' });
    assert.equal(lines.statusCode, 200);
    assert.match(String(lines.headers['content-type']), /application\/x-ndjson/);
    const parsed = lines.body.trim().split('\n').map((l) => JSON.parse(l) as Any);
    assert.deepEqual(parsed.map((e) => e.id), seen.slice(1, 4));
    assert.equal(lines.headers['x-next-token'], seen[3]);
  });
});

describe("the seeds' own spellings", () => {
  it('POST /baskets/gusts creates a guest and, with jayToken, redeems a transfer; hidden from the OpenAPI document', async () => {
    const created = await call('POST', '/v2/baskets/gusts', { 'x-api-key': DEMO_KEY }, { products: [{ productId: 'prod-123' }] });
    assert.equal(created.status, 200, created.text);
    assert.match(created.body.data.userId, /^guest-/);
    const guest = created.body.data.userId as string;
    const h = userHeaders(DEMO_KEY, created.body.data.token as string, { 'x-jay-tracking': tracking({ session_id: 'gusts-show', source: 'tv' }) });
    const transfer = await call('POST', `/v2/baskets/users/${guest}/transfer`, h, {});
    assert.equal(transfer.status, 200, transfer.text);
    const redeemed = await call('POST', `/baskets/gusts?jayToken=${encodeURIComponent(transfer.body.data.jayToken)}`, { 'x-api-key': DEMO_KEY });
    assert.equal(redeemed.status, 200, redeemed.text);
    assert.equal(redeemed.body.data.userId, guest);
    const again = await call('GET', `/v2/baskets/gusts?jayToken=${encodeURIComponent(transfer.body.data.jayToken)}`, { 'x-api-key': DEMO_KEY });
    assert.equal(again.status, 410);
    assert.deepEqual(
      (await eventsOf('demo', guest)).map((e) => [e.action, e.sessionId]),
      [
        ['guest', null],
        ['transfer', 'gusts-show'],
        ['redeem', null],
      ],
    );
    const doc = await t.server.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.doesNotMatch(doc.body, /gusts/);
    assert.match(doc.body, /\/v2\/baskets\/guests/);
  });

  it('"mode": "test" in the checkout body is ?testMode=true; "live" is false; a contradiction is refused', async () => {
    const start = async (user: string, body: Any, query = '') => {
      const h = await demo(user);
      assert.equal((await call('POST', `/v2/baskets/users/${user}/products/prod-123`, h, { count: 1 })).status, 200);
      return call('POST', `/v2/baskets/users/${user}/checkout/sessions${query}`, h, body);
    };
    const test = await start('mode-1', { mode: 'test' });
    assert.equal(test.status, 200, test.text);
    assert.equal(test.body.data.testMode, true);
    // the sandbox refuses live payments (422 3002), as it does for ?testMode=false
    const live = await start('mode-2', { mode: 'live' });
    assert.equal(live.status, 422);
    assert.equal(live.body.error?.code, 3002);
    const contradiction = await start('mode-3', { mode: 'test' }, '?testMode=false');
    assert.equal(contradiction.status, 422);
    assert.deepEqual(contradiction.body.error?.details, [{ field: 'body.mode', message: 'contradicts querystring.testMode' }]);
    const bad = await start('mode-4', { mode: 'sandbox' });
    assert.equal(bad.status, 422);
  });
});

describe("delivery to a partner's analytics endpoint", () => {
  it('posts the batch of events signed, and the outbox retries a failed delivery', async () => {
    const token = await sign(new TextEncoder().encode(ANA_SECRET), 'HS256', {}, { sub: 'ana-viewer', iat: Math.floor(t.clock.now / 1000), exp: Math.floor(t.clock.now / 1000) + 3600 });
    const h = userHeaders(ANA_KEY, token, { 'x-jay-tracking': tracking({ session_id: 'ana-show', source: 'tv', provider: 'netflix' }) });
    hook.statuses.push(500);
    assert.equal((await call('POST', '/v2/baskets/users/ana-viewer/products/x1', h, { count: 2 })).status, 200);
    await t.server.events.settled();
    // (the outbox also holds the journeys' checkout and order messages: only the hook's side is counted)
    await t.server.outbox.runOnce();
    assert.equal(hook.received.length, 1, 'first delivery answered 500');
    await t.server.outbox.runOnce();
    assert.equal(hook.received.length, 1, 'not before its backoff');
    t.clock.now += 60 * 60_000; // past the retry's backoff
    await t.server.outbox.runOnce();
    assert.equal(hook.received.length, 2);
    const [first, second] = hook.received;
    assert.equal(second!.headers['x-basket-delivery-id'], first!.headers['x-basket-delivery-id'], 'the retry is the same delivery');
    assert.ok(verifySignature(ANA_HOOK_SECRET, String(second!.headers['x-basket-signature']), second!.body, Math.floor(t.clock.now / 1000)));
    const body = JSON.parse(second!.body) as Any;
    assert.equal(body.partnerId, 'ana');
    assert.deepEqual(
      body.events.map((e: Any) => pick(e, ['action', 'productId', 'count', 'sessionId', 'provider', 'user'])),
      [{ action: 'assign', productId: 'x1', count: 2, sessionId: 'ana-show', provider: 'netflix', user: t.server.events.pseudonym('ana', 'ana-viewer') }],
    );
    await t.server.outbox.runOnce();
    assert.equal(hook.received.length, 2, 'delivered: nothing left');
  });

  it('sends nothing for partners without an analytics webhook', async () => {
    const before = hook.received.length;
    const h = await demo('no-hook');
    assert.equal((await call('POST', '/v2/baskets/users/no-hook/products/prod-123', h, {})).status, 200);
    await t.server.events.settled();
    await t.server.outbox.runOnce();
    assert.equal(hook.received.length, before);
  });
});

describe('retention', () => {
  it('the sweeper purges events older than EVENTS_TTL and keeps younger ones', async () => {
    const s = await startTestServer({ EVENTS_TTL: '2h', DEV_PARTNER: 'true' });
    try {
      const call2 = (user: string, product: string) =>
        s.demoToken(user).then((tok) => s.server.app.inject({ method: 'POST', url: `/v2/baskets/users/${user}/products/${product}`, headers: userHeaders(DEMO_KEY, tok) }));
      assert.equal((await call2('old', 'prod-123')).statusCode, 200);
      s.clock.now += 90 * 60_000;
      assert.equal((await call2('young', 'prod-123')).statusCode, 200);
      await s.server.events.settled();
      s.clock.now += 60 * 60_000; // the first is 2.5 h old, the second 1 h
      const sweeper = startSweeper(s.server.store, { everyMs: 3_600_000, batch: 100, now: () => s.clock.now, log: s.server.log, eventsTtlMs: 2 * 3_600_000 });
      await sweeper.sweep();
      await sweeper.stop();
      const res = await s.server.app.inject({ method: 'GET', url: `/admin/events?partner=${DEV_PARTNER.id}`, headers: { 'x-admin-key': ADMIN_KEY } });
      const users = (res.json() as EnvelopeBody<{ events: Any[] }>).data.events.map((e) => e.user);
      assert.deepEqual(users, [s.server.events.pseudonym('demo', 'young')]);
    } finally {
      await s.close();
    }
  });
});
