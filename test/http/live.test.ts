/**
 * The live change stream (issue 22) through the real server on TEST_STORE: the basket on connect and after
 * changes, stream tickets, Last-Event-ID, the per-user and per-process caps, heartbeats, and the end of every
 * stream at shutdown. Across processes: test/multiprocess/live.test.ts; in a browser: test/browser/landing.test.ts.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { BasketView } from '../../src/http/routes/baskets.js';
import { redactUrl } from '../../src/http/redact.js';
import { productInput } from '../helpers/product.js';
import { withMacChanged, withSpareBitsFlipped } from '../helpers/spare-bits.js';
import { openSse, type SseStream } from '../helpers/sse.js';
import { DEMO_KEY, startTestServer, userHeaders, type TestServer } from './harness.js';

let t: TestServer;
let base: string;
const open: SseStream[] = [];

before(async () => {
  t = await startTestServer({ LIVE_MAX_STREAMS_PER_USER: '2', LIVE_MAX_STREAMS: '4', LIVE_HEARTBEAT: '150ms', LIVE_TICKET_TTL: '10m' });
  await t.server.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(t.server.app.server.address() as AddressInfo).port}`;
  await t.server.store.upsertProducts('demo', Array.from({ length: 15 }, (_, i) => productInput(`burst-${i}`)));
});
after(async () => {
  for (const s of open) s.close();
  await t.close();
});

async function stream(userId: string, opts: { headers?: Record<string, string>; path?: string; query?: string } = {}): Promise<SseStream> {
  const headers = opts.headers ?? userHeaders(DEMO_KEY, await t.demoToken(userId));
  const s = await openSse(`${base}${opts.path ?? '/v2'}/baskets/users/${encodeURIComponent(userId)}/events${opts.query ?? ''}`, headers);
  open.push(s);
  return s;
}

async function call<T = BasketView>(method: string, userId: string, path: string, body?: unknown): Promise<{ status: number; data: T; error: { code: number } | null }> {
  const res = await fetch(`${base}/v2/baskets/users/${encodeURIComponent(userId)}${path}`, {
    method,
    headers: userHeaders(DEMO_KEY, await t.demoToken(userId), body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as { data: T; error: { code: number } | null };
  return { status: res.status, data: json.data, error: json.error };
}

const assign = (userId: string, productId: string, count: number) => call('POST', userId, `/products/${productId}`, { count });

/** Resolves once the feed watches `n` streams (a stream is watched before its headers are sent, so this is a formality). */
async function watching(n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (t.server.feed.open !== n) {
    if (Date.now() > deadline) throw new Error(`feed watches ${t.server.feed.open} streams, expected ${n}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function closeAll(): Promise<void> {
  for (const s of open.splice(0)) s.close();
  return watching(0);
}

describe('GET /v2/baskets/users/{userId}/events', () => {
  it('sends the basket on connect (id: its version, data: as GET) and after every change', async () => {
    const user = 'live-1';
    assert.equal((await assign(user, 'prod-123', 1)).status, 200);
    const s = await stream(user);
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /^text\/event-stream/);
    assert.equal(s.headers['cache-control'], 'no-store, no-transform');
    assert.equal(s.headers['content-encoding'], undefined);
    assert.equal(s.headers['x-api-version'], '2025-09-15');
    const first = await s.event(0);
    assert.equal(first.event, 'basket');
    assert.equal(first.id, '1');
    const get = await call('GET', user, '');
    assert.deepEqual(JSON.parse(first.data), get.data);

    const after2 = await assign(user, 'prod-456', 2);
    const second = await s.event(1);
    assert.equal(second.id, '2');
    assert.deepEqual(JSON.parse(second.data), after2.data);
    await call('DELETE', user, '');
    assert.deepEqual(JSON.parse((await s.event(2)).data).cart, []);
    await closeAll();
  });

  it('a user without a basket gets an empty one with id 0; the bare path works alike', async () => {
    const s = await stream('live-empty', { path: '' });
    const first = await s.event(0);
    assert.equal(first.id, '0');
    const data = JSON.parse(first.data) as BasketView;
    assert.deepEqual([data.cart, data.saved, data.checkout], [[], [], []]);
    await assign('live-empty', 'prod-123', 1);
    assert.equal((await s.event(1)).id, '1');
    await closeAll();
  });

  it('a burst of changes ends with the latest state (intermediate ones may be skipped)', async () => {
    const user = 'live-burst';
    const s = await stream(user);
    await s.event(0);
    const results = await Promise.all(Array.from({ length: 15 }, (_, i) => assign(user, `burst-${i}`, 1)));
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
    const final = await call('GET', user, '');
    const deadline = Date.now() + 5000;
    while (s.events.at(-1)?.id !== '15' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const last = s.events.at(-1)!;
    assert.equal(last.id, '15');
    assert.deepEqual(JSON.parse(last.data), final.data);
    const ids = s.events.map((e) => Number(e.id));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'versions only go forward');
    assert.equal(new Set(ids).size, ids.length, 'no version twice');
    await closeAll();
  });

  it('Last-Event-ID: the basket on connect only when its version differs', async () => {
    const user = 'live-resume';
    await assign(user, 'prod-123', 1);
    await assign(user, 'prod-123', 2);
    const token = await t.demoToken(user);
    const current = await stream(user, { headers: userHeaders(DEMO_KEY, token, { 'last-event-id': '2' }) });
    const behind = await stream(user, { headers: userHeaders(DEMO_KEY, token, { 'last-event-id': '1' }) });
    assert.equal((await behind.event(0)).id, '2');
    await assign(user, 'prod-123', 3);
    assert.equal((await current.event(0)).id, '3', 'the first event of an up-to-date client is the next change');
    assert.equal((await behind.event(1)).id, '3');
    await closeAll();
  });

  it('heartbeats: a comment line every LIVE_HEARTBEAT while nothing changes', async () => {
    const s = await stream('live-heartbeat');
    await s.event(0);
    await s.heartbeats(2, 5000);
    assert.equal(s.events.length, 1);
    await closeAll();
  });

  it('answers errors in the envelope: no API key 401 2023, bad token 401 2002, another user 403 2019', async () => {
    const noKey = await stream('live-auth', { headers: {} });
    assert.equal(noKey.status, 401);
    assert.equal(JSON.parse(await noKey.body()).error.code, 2023);
    const badToken = await stream('live-auth', { headers: userHeaders(DEMO_KEY, 'not-a-jwt') });
    assert.equal(badToken.status, 401);
    assert.equal(JSON.parse(await badToken.body()).error.code, 2002);
    const other = await stream('live-auth', { headers: userHeaders(DEMO_KEY, await t.demoToken('someone-else')) });
    assert.equal(other.status, 403);
    assert.equal(JSON.parse(await other.body()).error.code, 2019);
    await closeAll();
  });

  it('caps: a third stream of one user 429 2025 with Retry-After; beyond LIVE_MAX_STREAMS 503 3005; closing frees a place', async () => {
    const a1 = await stream('cap-a');
    const a2 = await stream('cap-a');
    await Promise.all([a1.event(0), a2.event(0)]);
    const a3 = await stream('cap-a');
    assert.equal(a3.status, 429);
    assert.ok(Number(a3.headers['retry-after']) > 0);
    const body = JSON.parse(await a3.body()) as { data: null; error: { code: number; details: unknown } };
    assert.equal(body.error.code, 2025);
    assert.equal(body.error.details, 'TOO_MANY_STREAMS');

    await Promise.all([(await stream('cap-b')).event(0), (await stream('cap-c')).event(0)]);
    await watching(4);
    const full = await stream('cap-d');
    assert.equal(full.status, 503);
    assert.equal(full.headers['retry-after'], '1');
    assert.equal(JSON.parse(await full.body()).error.code, 3005);

    a1.close();
    await watching(3);
    const again = await stream('cap-d');
    assert.equal(again.status, 200);
    await again.event(0);
    await closeAll();
  });
});

describe('stream tickets', () => {
  it('POST .../events/tickets gives a ticket that opens the stream without headers, for that user only', async () => {
    const user = 'live-ticket';
    const issued = await call<{ ticket: string; expires: string }>('POST', user, '/events/tickets');
    assert.equal(issued.status, 200);
    assert.equal(issued.data.expires, new Date(t.clock.now + 600_000).toISOString().replace('.000Z', 'Z'));
    const query = `?ticket=${encodeURIComponent(issued.data.ticket)}`;
    const s = await stream(user, { headers: {}, query });
    assert.equal(s.status, 200);
    assert.equal((await s.event(0)).id, '0');
    await assign(user, 'prod-123', 1);
    assert.equal((await s.event(1)).id, '1');

    const other = await stream('not-the-ticket-user', { headers: {}, query });
    assert.equal(other.status, 403);
    assert.equal(JSON.parse(await other.body()).error.code, 2019);
    // a changed MAC, and the same MAC bytes written with other spare bits (a non-canonical twin)
    for (const bad of [withMacChanged(issued.data.ticket), withSpareBitsFlipped(issued.data.ticket)]) {
      const forged = await stream(user, { headers: {}, query: `?ticket=${encodeURIComponent(bad)}` });
      assert.equal(forged.status, 401);
      assert.equal(JSON.parse(await forged.body()).error.code, 2002);
    }

    t.clock.now += 600_001;
    try {
      const expired = await stream(user, { headers: {}, query });
      assert.equal(expired.status, 401);
      assert.equal(JSON.parse(await expired.body()).error.code, 2002);
    } finally {
      t.clock.now -= 600_001;
    }
    await closeAll();
  });

  it('a ticket in a logged URL is masked', () => {
    assert.equal(redactUrl('/v2/baskets/users/u/events?ticket=abc.def&provider_id=p'), '/v2/baskets/users/u/events?ticket=[redacted]&provider_id=p');
  });
});

describe('shutdown', () => {
  it('ends every open stream at once, so closing the server does not wait for them', async () => {
    const own = await startTestServer({}, { sameStoreAs: t });
    await own.server.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (own.server.app.server.address() as AddressInfo).port;
    const token = await own.demoToken('live-shutdown');
    const streams = await Promise.all([1, 2].map(() => openSse(`http://127.0.0.1:${port}/v2/baskets/users/live-shutdown/events`, userHeaders(DEMO_KEY, token))));
    await Promise.all(streams.map((s) => s.event(0)));
    const started = Date.now();
    await own.server.close();
    await Promise.all(streams.map((s) => s.ended));
    assert.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms`);
  });
});
