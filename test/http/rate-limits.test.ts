/**
 * Request-rate limits (issue 17, item 6) through the real server, on TEST_STORE: 429 `2025` with `Retry-After` and
 * `RateLimit-*`, per partner (with a partner's override), per user, per client address (guest creation,
 * redemption, the other routes without an API key), the lockout after failed authentications, two servers on
 * one store sharing the count, and admitting when the counter store is unreachable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { openRateLimitStore, type RateLimitStore } from '../../src/store/rate-limits.js';
import { ACME_KEY, ADMIN_KEY, DEMO_KEY, OPEN_KEY, startTestServer, TEST_PARTNERS, TEST_STORE, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';

const MINUTE = 60_000;

interface Answer {
  status: number;
  body: EnvelopeBody;
  headers: Record<string, unknown>;
}

async function call(t: TestServer, options: InjectOptions, ip = '198.51.100.7'): Promise<Answer> {
  const res = await t.server.app.inject({ remoteAddress: ip, ...options });
  const type = String(res.headers['content-type'] ?? '');
  return { status: res.statusCode, body: (type.includes('json') ? res.json() : null) as EnvelopeBody, headers: res.headers };
}

const createGuest = (t: TestServer, ip?: string, apiKey = DEMO_KEY) =>
  call(t, { method: 'POST', url: '/v2/baskets/guests', headers: { 'x-api-key': apiKey } }, ip);

function assertTooMany(r: Answer, limit: number, what: string): void {
  assert.equal(r.status, 429, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.deepEqual(Object.keys(r.body), ['data', 'nextToken', 'error'], what);
  assert.equal(r.body.data, null);
  assert.equal(r.body.error?.code, 2025, what);
  assert.equal(r.body.error?.details, 'TOO_MANY_REQUESTS', what);
  const retryAfter = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `${what}: Retry-After ${String(r.headers['retry-after'])}`);
  assert.equal(r.headers['ratelimit-limit'], String(limit), what);
  assert.equal(r.headers['ratelimit-remaining'], '0', what);
  assert.equal(r.headers['ratelimit-reset'], String(retryAfter), what);
}

/** Sends `n` requests one after the other and returns their statuses. */
async function statuses(n: number, send: (i: number) => Promise<Answer>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send(i)).status);
  return out;
}

const count = (list: number[], status: number) => list.filter((s) => s === status).length;

/** The clock at the start of the next window of `windowMs`, plus a little. */
const nextWindow = (t: TestServer, windowMs: number) => {
  t.clock.now = t.clock.now - (t.clock.now % windowMs) + windowMs + 1;
};

describe(`rate limits (${TEST_STORE})`, { timeout: 120_000 }, () => {
  const servers: TestServer[] = [];
  const start = async (...args: Parameters<typeof startTestServer>) => {
    const t = await startTestServer(...args);
    servers.push(t);
    return t;
  };
  after(async () => {
    // a server sharing another's store closes first: the first one drops the store
    for (const t of servers.reverse()) await t.close();
  });

  it('the defaults: 30 guests a minute per address, then 429 2025 with Retry-After and RateLimit-*; other addresses and the next window go on', async () => {
    // '' = the default of each limit (the harness sets high ones for the other tests)
    const t = await start({ RATE_LIMIT_GUEST_IP: '', RATE_LIMIT_PARTNER: '', RATE_LIMIT_USER: '' });
    t.clock.now = t.clock.now - (t.clock.now % MINUTE) + 1000;
    const first = await statuses(30, () => createGuest(t, '203.0.113.1'));
    assert.deepEqual(first, Array(30).fill(200));
    const refused = await createGuest(t, '203.0.113.1');
    assertTooMany(refused, 30, '31st guest');
    assert.equal(refused.headers['retry-after'], '59');
    assert.equal((await createGuest(t, '203.0.113.2')).status, 200, 'another address');
    // an IPv6 client is counted by its /64: stepping through its addresses does not escape the limit
    const v6 = await statuses(31, (i) => createGuest(t, `2001:db8:1:2::${(i + 1).toString(16)}`));
    assert.deepEqual(v6, [...Array(30).fill(200), 429]);
    nextWindow(t, MINUTE);
    assert.equal((await createGuest(t, '203.0.113.1')).status, 200, 'the next window');
  });

  it('per user, counted after authentication: the 6th request of u1 is refused, u2 goes on, and bad tokens for u1 spend nothing', async () => {
    const t = await start({ RATE_LIMIT_USER: '5/1m' });
    const u1 = await t.demoToken('u1');
    const u2 = await t.demoToken('u2');
    const get = (user: string, token: string, ip?: string) => call(t, { method: 'GET', url: `/v2/baskets/users/${user}`, headers: userHeaders(DEMO_KEY, token) }, ip);
    // someone else, with a token that is not u1's, cannot spend u1's budget
    const forged = await statuses(10, () => get('u1', u2, '192.0.2.66'));
    assert.deepEqual(forged, Array(10).fill(403));
    assert.deepEqual(await statuses(5, () => get('u1', u1)), Array(5).fill(200));
    const refused = await get('u1', u1);
    assertTooMany(refused, 5, "u1's 6th request");
    assert.match(refused.body.error!.message, /user/);
    // the limit is the user's, whatever the address or route
    assert.equal((await get('u1', u1, '192.0.2.1')).status, 429);
    const write = await call(t, { method: 'POST', url: '/v2/baskets/users/u1/products/prod-123', headers: userHeaders(DEMO_KEY, u1, { 'content-type': 'application/json' }), payload: '{}' });
    assert.equal(write.status, 429);
    assert.equal((await get('u2', u2)).status, 200, 'u2');
  });

  it('per partner, with a partner override: the demo key (default 10/10s) and the open partner (its own 3/10s)', async () => {
    const partners = TEST_PARTNERS.map((p) => (p.id === 'open' ? { ...p, rateLimits: { partner: '3/10s' } } : p));
    const t = await start({ RATE_LIMIT_PARTNER: '10/10s', PARTNERS_JSON: JSON.stringify(partners) });
    t.clock.now = t.clock.now - (t.clock.now % 10_000);
    const details = (apiKey: string, ip: string) =>
      call(t, { method: 'POST', url: '/v2/baskets/products/details', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, payload: '["prod-123"]' }, ip);
    // every request with the key counts, from any address
    const demo = await statuses(11, (i) => details(DEMO_KEY, `198.51.100.${i + 1}`));
    assert.deepEqual(demo, [...Array(10).fill(200), 429]);
    const open = await statuses(4, (i) => details(OPEN_KEY, `198.51.100.${i + 1}`));
    assert.deepEqual(open, [200, 200, 200, 429]);
    assertTooMany(await details(OPEN_KEY, '198.51.100.99'), 3, 'open partner');
    // guest creation counts against the partner too
    assert.equal((await createGuest(t, '198.51.100.50')).status, 429);
    assert.equal((await details(ACME_KEY, '198.51.100.1')).status, 200, 'another partner');
    t.clock.now += 10_000;
    assert.equal((await details(OPEN_KEY, '198.51.100.1')).status, 200, 'the next window');
  });

  it('transfer redemption per address: /v2/baskets/guests?jayToken=, /landing and the QR image share one budget; guest creation has its own', async () => {
    const t = await start({ RATE_LIMIT_REDEEM_IP: '4/1m', RATE_LIMIT_GUEST_IP: '2/1m' });
    const ip = '192.0.2.10';
    const answers = [
      await call(t, { method: 'GET', url: '/v2/baskets/guests?jayToken=guess-1', headers: { 'x-api-key': DEMO_KEY } }, ip),
      await call(t, { method: 'POST', url: '/v2/baskets/guests?jayToken=guess-2', headers: { 'x-api-key': DEMO_KEY } }, ip),
      await call(t, { method: 'GET', url: '/landing?jaySource=demo-tv&jayToken=guess-3' }, ip),
      await call(t, { method: 'GET', url: '/baskets/transfers/guess-4/qr.png' }, ip),
    ];
    assert.deepEqual(
      answers.map((a) => a.status),
      [410, 410, 410, 404],
    );
    assertTooMany(await call(t, { method: 'GET', url: '/v2/baskets/guests?jayToken=guess-5', headers: { 'x-api-key': DEMO_KEY } }, ip), 4, 'redemption');
    const landing = await call(t, { method: 'POST', url: '/landing', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'jayToken=guess-6' }, ip);
    assert.equal(landing.status, 429);
    assert.equal(landing.body.error?.code, 2025);
    assert.equal((await call(t, { method: 'GET', url: '/baskets/transfers/guess-7/qr.png' }, ip)).status, 429);
    // guest creation from the same address is counted apart
    assert.deepEqual(await statuses(3, () => createGuest(t, ip)), [200, 200, 429]);
    assert.equal((await call(t, { method: 'GET', url: '/v2/baskets/guests?jayToken=guess-8', headers: { 'x-api-key': DEMO_KEY } }, '192.0.2.11')).status, 410);
  });

  it('other routes without an API key, per address: /healthz and /.well-known/jwks.json share one budget; the Stripe webhook is not in it', async () => {
    const t = await start({ RATE_LIMIT_PUBLIC_IP: '3/1m' });
    const ip = '192.0.2.20';
    assert.equal((await call(t, { method: 'GET', url: '/healthz' }, ip)).status, 200);
    assert.equal((await call(t, { method: 'GET', url: '/.well-known/jwks.json' }, ip)).status, 200);
    assert.equal((await call(t, { method: 'GET', url: '/readyz' }, ip)).status, 200);
    assertTooMany(await call(t, { method: 'GET', url: '/healthz' }, ip), 3, '/healthz');
    const webhook = await call(t, { method: 'POST', url: '/psp/stripe/webhook', headers: { 'stripe-signature': 't=1,v1=00', 'content-type': 'application/json' }, payload: '{}' }, ip);
    // a busy show's payments arrive from Stripe's few addresses: only failed signatures are throttled (below)
    assert.equal(webhook.status, 400);
    assert.equal((await call(t, { method: 'GET', url: '/healthz' }, '192.0.2.21')).status, 200);
  });

  it('failed authentications: after 3 from an address it gets 429 on authenticated routes, even with a correct key; other addresses and the next window go on', async () => {
    const t = await start({ RATE_LIMIT_AUTH_FAILURES_IP: '3/10m' });
    t.clock.now = t.clock.now - (t.clock.now % (10 * MINUTE)) + 1000;
    const attacker = '203.0.113.66';
    const token = await t.demoToken('u1');
    const expired = await t.demoToken('u1', {}, -3600);
    const putProduct = (adminKey: string, ip: string) =>
      call(t, { method: 'PUT', url: '/admin/products/cap-1?partner=demo', headers: { 'x-admin-key': adminKey, 'content-type': 'application/json' }, payload: '{"name":"Cap","price":19.9,"currency":"EUR"}' }, ip);
    const basket = (apiKey: string, bearer: string, ip: string) => call(t, { method: 'GET', url: '/v2/baskets/users/u1', headers: userHeaders(apiKey, bearer) }, ip);
    // an expired token is a genuine one that ran out (an everyday case for a TV app): not counted as a guess
    assert.deepEqual(await statuses(5, () => basket(DEMO_KEY, expired, attacker)), Array(5).fill(401));
    assert.equal((await basket(DEMO_KEY, token, attacker)).status, 200);
    // three guesses: an API key, an admin key, a token signature
    const guesses = [
      await basket('guessed-api-key-1', token, attacker),
      await putProduct('guessed-admin-key', attacker),
      await basket(DEMO_KEY, `${token.slice(0, -4)}AAAA`, attacker),
    ];
    assert.deepEqual(
      guesses.map((g) => g.status),
      [401, 401, 401],
    );
    // locked out: refused before the (correct) key and token are even looked at, on every authenticated route
    const locked = await basket(DEMO_KEY, token, attacker);
    assertTooMany(locked, 3, 'after 3 failed authentications');
    assert.match(locked.body.error!.message, /failed authentications/);
    assert.equal((await createGuest(t, attacker)).status, 429);
    assert.equal((await putProduct(ADMIN_KEY, attacker)).status, 429);
    assert.equal((await putProduct(ADMIN_KEY, '203.0.113.67')).status, 200);
    // the correct key from another address works
    assert.equal((await basket(DEMO_KEY, token, '203.0.113.67')).status, 200);
    // routes without authentication are not locked
    assert.equal((await call(t, { method: 'GET', url: '/healthz' }, attacker)).status, 200);
    t.clock.now += 10 * MINUTE;
    assert.equal((await basket(DEMO_KEY, token, attacker)).status, 200, 'the next window');
  });

  it('failed authentications: webhook calls with a bad signature count too', async () => {
    const t = await start({ RATE_LIMIT_AUTH_FAILURES_IP: '2/10m' });
    const ip = '203.0.113.80';
    const hook = () => call(t, { method: 'POST', url: '/psp/stripe/webhook', headers: { 'stripe-signature': 't=1,v1=00', 'content-type': 'application/json' }, payload: '{}' }, ip);
    assert.deepEqual(await statuses(3, hook), [400, 400, 429]);
    assert.equal((await createGuest(t, ip)).status, 429);
  });

  it('two servers on one store share the count: limit 10, 6 guests asked of each → exactly 10 admitted', async () => {
    const env = { RATE_LIMIT_GUEST_IP: '10/1m' };
    const a = await start(env);
    const b = await start(env, { sameStoreAs: a });
    b.clock.now = a.clock.now;
    const ip = '198.51.100.200';
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => createGuest(i % 2 === 0 ? a : b, ip)));
    const all = answers.map((r) => r.status);
    assert.equal(count(all, 200), 10, JSON.stringify(all));
    assert.equal(count(all, 429), 2, JSON.stringify(all));
    // sequentially too: each server sees what the other counted
    const c = '198.51.100.201';
    const seq = await statuses(12, (i) => createGuest(i < 6 ? a : b, c));
    assert.deepEqual(seq, [...Array(10).fill(200), 429, 429]);
  });

  it('0 turns a limit off', async () => {
    const t = await start({ RATE_LIMIT_GUEST_IP: '0', RATE_LIMIT_PUBLIC_IP: '1/1m' });
    assert.deepEqual(await statuses(35, () => createGuest(t, '192.0.2.30')), Array(35).fill(200));
  });

  it('fails open: with the counter store unreachable, requests are admitted (and served)', async () => {
    const broken = await unreachableCounterStore();
    try {
      const t = await start({ RATE_LIMIT_GUEST_IP: '1/1m', RATE_LIMIT_USER: '1/1m' }, { rateLimitStore: broken.store });
      assert.deepEqual(await statuses(4, () => createGuest(t, '192.0.2.40')), Array(4).fill(200));
      const token = await t.demoToken('u1');
      const gets = await statuses(3, () => call(t, { method: 'GET', url: '/v2/baskets/users/u1', headers: userHeaders(DEMO_KEY, token) }));
      assert.deepEqual(gets, Array(3).fill(200));
    } finally {
      broken.cleanup();
    }
  });
});

/** A counter store of the engine under test that cannot be reached: nothing listens on its port, or its file is closed. */
async function unreachableCounterStore(): Promise<{ store: RateLimitStore; cleanup(): void }> {
  if (TEST_STORE === 'postgres') return { store: await openRateLimitStore('postgres://postgres@127.0.0.1:1/test'), cleanup: () => {} };
  if (TEST_STORE === 'redis') return { store: await openRateLimitStore('redis://127.0.0.1:1'), cleanup: () => {} };
  const dir = mkdtempSync(path.join(tmpdir(), 'basket-rl-'));
  const store = await openRateLimitStore(`sqlite:${path.join(dir, 'basket.db')}`);
  await store.close();
  return { store, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
