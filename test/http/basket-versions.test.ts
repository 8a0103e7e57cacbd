/**
 * Basket versions on the wire (issue 22): ETag on every basket answer, If-None-Match → 304 on GET, If-Match → 412
 * on every write, checked inside the compare-and-set (concurrent writes with the same If-Match: one wins).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BasketView } from '../../src/http/routes/baskets.js';
import { DEMO_KEY, OPEN_KEY, startTestServer, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

async function call(method: Method, url: string, user: string, opts: { body?: unknown; headers?: Record<string, string>; apiKey?: string } = {}) {
  const apiKey = opts.apiKey ?? OPEN_KEY;
  const token = apiKey === DEMO_KEY ? await t.demoToken(user) : await t.openToken(user);
  const extra = { ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers };
  const res = await t.server.app.inject({
    method,
    url,
    headers: userHeaders(apiKey, token, extra),
    ...(opts.body === undefined ? {} : { payload: JSON.stringify(opts.body) }),
  });
  return {
    status: res.statusCode,
    etag: res.headers.etag as string | undefined,
    raw: res.body,
    body: (res.body === '' ? null : res.json()) as EnvelopeBody<BasketView>,
  };
}

const cartOf = (r: { body: EnvelopeBody<BasketView> }) => r.body.data.cart.map((l) => `${l.productId}:${l.count}`);

describe('ETag', () => {
  it('names the stored version: "v0" before the first write, then one more per write; reads leave it', async () => {
    const empty = await call('GET', '/v2/baskets/users/e1', 'e1');
    assert.equal(empty.status, 200);
    assert.equal(empty.etag, '"v0"');
    const first = await call('POST', '/v2/baskets/users/e1/products/a', 'e1', { body: { count: 1 } });
    assert.equal(first.etag, '"v1"');
    assert.equal((await call('GET', '/baskets/users/e1', 'e1')).etag, '"v1"');
    const second = await call('PATCH', '/v2/baskets/users/e1/products/a', 'e1', { body: { count: 4 } });
    assert.equal(second.etag, '"v2"');
    // a rule's no-op writes nothing: the version stays
    const noop = await call('POST', '/v2/baskets/users/e1/products/zz', 'e1', { body: { count: -1 } });
    assert.equal(noop.etag, '"v2"');
    assert.equal((await call('DELETE', '/v2/baskets/users/e1/products/a', 'e1')).etag, '"v3"');
    assert.equal((await call('DELETE', '/v2/baskets/users/e1', 'e1')).etag, '"v3"');
  });

  it('an expired basket reads as empty with "v0"; the next write continues the stored count', async () => {
    await call('POST', '/v2/baskets/users/e2/products/a', 'e2', { body: { count: 1 } });
    const saved = t.clock.now;
    t.clock.now += 31 * 86_400_000;
    try {
      const expired = await call('GET', '/v2/baskets/users/e2', 'e2');
      assert.deepEqual([expired.etag, cartOf(expired)], ['"v0"', []]);
      const guarded = await call('POST', '/v2/baskets/users/e2/products/b', 'e2', { body: { count: 1 }, headers: { 'if-match': '"v0"' } });
      assert.equal(guarded.status, 200);
      assert.equal(guarded.etag, '"v2"');
      assert.deepEqual(cartOf(guarded), ['b:1']);
    } finally {
      t.clock.now = saved;
    }
  });
});

describe('If-None-Match on GET', () => {
  it('answers 304 without a body when it names the version (weakly compared, in a list, or *), 200 otherwise', async () => {
    await call('POST', '/v2/baskets/users/n1/products/a', 'n1', { body: { count: 2 } });
    for (const value of ['"v1"', 'W/"v1"', '"x", "v1"', '"v7" ,W/"v1"', '*']) {
      const r = await call('GET', '/v2/baskets/users/n1', 'n1', { headers: { 'if-none-match': value } });
      assert.equal(r.status, 304, value);
      assert.equal(r.raw, '', value);
      assert.equal(r.etag, '"v1"', value);
    }
    for (const value of ['"v2"', '"v0"', 'W/"v11"', '"other"']) {
      const r = await call('GET', '/v2/baskets/users/n1', 'n1', { headers: { 'if-none-match': value } });
      assert.equal(r.status, 200, value);
      assert.deepEqual(cartOf(r), ['a:2']);
    }
    await call('POST', '/v2/baskets/users/n1/products/a', 'n1', { body: { count: 3 } });
    const changed = await call('GET', '/v2/baskets/users/n1', 'n1', { headers: { 'if-none-match': '"v1"' } });
    assert.equal(changed.status, 200);
    assert.deepEqual([changed.etag, cartOf(changed)], ['"v2"', ['a:3']]);
  });

  it('refuses a header that is not a list of entity tags (422 3002), on GET and on writes', async () => {
    for (const value of ['v1', '"v1', 'W/ "v1"', '"v1" "v2"']) {
      const r = await call('GET', '/v2/baskets/users/n2', 'n2', { headers: { 'if-none-match': value } });
      assert.equal(r.status, 422, value);
      assert.equal(r.body.error?.code, 3002, value);
      assert.deepEqual((r.body.error?.details as { field: string }[])[0]?.field, 'headers.if-none-match');
      const w = await call('POST', '/v2/baskets/users/n2/products/a', 'n2', { body: { count: 1 }, headers: { 'if-match': value } });
      assert.equal(w.status, 422, value);
      assert.equal(w.body.error?.code, 3002, value);
    }
    assert.equal((await call('GET', '/v2/baskets/users/n2', 'n2')).etag, '"v0"', 'nothing was written');
  });
});

describe('If-Match on writes', () => {
  it('412 (code 412, VERSION_MISMATCH) when the basket moved on, and nothing changes; the current tag goes through', async () => {
    await call('POST', '/v2/baskets/users/m1/products/a', 'm1', { body: { count: 1 } });
    await call('POST', '/v2/baskets/users/m1/products/b', 'm1', { body: { count: 1 } });
    const stale = await call('POST', '/v2/baskets/users/m1/products/c', 'm1', { body: { count: 1 }, headers: { 'if-match': '"v1"' } });
    assert.equal(stale.status, 412);
    assert.deepEqual(Object.keys(stale.body), ['data', 'nextToken', 'error']);
    assert.equal(stale.body.data, null);
    assert.equal(stale.body.error?.code, 412);
    assert.equal(stale.body.error?.details, 'VERSION_MISMATCH');
    const now = await call('GET', '/v2/baskets/users/m1', 'm1');
    assert.deepEqual([now.etag, cartOf(now)], ['"v2"', ['a:1', 'b:1']]);
    const fresh = await call('POST', '/v2/baskets/users/m1/products/c', 'm1', { body: { count: 1 }, headers: { 'if-match': '"v2"' } });
    assert.equal(fresh.status, 200);
    assert.deepEqual([fresh.etag, cartOf(fresh)], ['"v3"', ['a:1', 'b:1', 'c:1']]);
    // a list matches any of its tags; a weak tag never matches (strong comparison)
    assert.equal((await call('DELETE', '/v2/baskets/users/m1/products/c', 'm1', { headers: { 'if-match': '"v9", "v3"' } })).status, 200);
    assert.equal((await call('DELETE', '/v2/baskets/users/m1/products/b', 'm1', { headers: { 'if-match': 'W/"v4"' } })).status, 412);
  });

  it('* requires the basket to exist', async () => {
    const absent = await call('POST', '/v2/baskets/users/m2/products/a', 'm2', { body: { count: 1 }, headers: { 'if-match': '*' } });
    assert.equal(absent.status, 412);
    assert.equal(absent.body.error?.details, 'VERSION_MISMATCH');
    await call('POST', '/v2/baskets/users/m2/products/a', 'm2', { body: { count: 1 } });
    const present = await call('POST', '/v2/baskets/users/m2/products/b', 'm2', { body: { count: 1 }, headers: { 'if-match': '*' } });
    assert.equal(present.status, 200);
  });

  it('guards every basket write: assign, update, remove, clear (also bare), finish-active, checkout start', async () => {
    await call('POST', '/v2/baskets/users/m3/products/prod-123', 'm3', { body: { count: 1 }, apiKey: DEMO_KEY });
    const stale = { 'if-match': '"v0"' };
    const writes: [Method, string, unknown][] = [
      ['POST', '/v2/baskets/users/m3/products/prod-456', { count: 1 }],
      ['PATCH', '/v2/baskets/users/m3/products/prod-123', { count: 2 }],
      ['DELETE', '/v2/baskets/users/m3/products/prod-123', undefined],
      ['DELETE', '/v2/baskets/users/m3', undefined],
      ['DELETE', '/baskets/users/m3', undefined],
      ['POST', '/v2/baskets/users/m3/checkout/sessions/finish-active', { ordered: false }],
      ['POST', '/v2/baskets/users/m3/checkout/sessions', {}],
    ];
    for (const [method, url, body] of writes) {
      const r = await call(method, url, 'm3', { body, headers: stale, apiKey: DEMO_KEY });
      assert.equal(r.status, 412, `${method} ${url}`);
      assert.equal(r.body.error?.code, 412, `${method} ${url}`);
    }
    const after = await call('GET', '/v2/baskets/users/m3', 'm3', { apiKey: DEMO_KEY });
    assert.deepEqual([after.etag, cartOf(after), after.body.data.checkout], ['"v1"', ['prod-123:1'], []]);

    // with the current tag the checkout starts and answers the basket's new version; finish-active answers its own
    const started = await call('POST', '/v2/baskets/users/m3/checkout/sessions', 'm3', { body: {}, headers: { 'if-match': '"v1"' }, apiKey: DEMO_KEY });
    assert.equal(started.status, 200, started.raw);
    assert.equal(started.etag, '"v2"');
    const finished = await call('POST', '/v2/baskets/users/m3/checkout/sessions/finish-active', 'm3', {
      body: { ordered: false },
      headers: { 'if-match': '"v2"' },
      apiKey: DEMO_KEY,
    });
    assert.equal(finished.status, 200, finished.raw);
    assert.deepEqual(cartOf(finished), ['prod-123:1']);
    assert.equal(finished.etag, (await call('GET', '/v2/baskets/users/m3', 'm3', { apiKey: DEMO_KEY })).etag);
  });

  it('is checked inside the compare-and-set: of concurrent writes with the same If-Match exactly one succeeds', async () => {
    await call('POST', '/v2/baskets/users/m4/products/a', 'm4', { body: { count: 1 } });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => call('POST', `/v2/baskets/users/m4/products/p${i}`, 'm4', { body: { count: 1 }, headers: { 'if-match': '"v1"' } })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 412, 412, 412, 412, 412, 412, 412]);
    const final = await call('GET', '/v2/baskets/users/m4', 'm4');
    assert.equal(final.etag, '"v2"');
    assert.equal(final.body.data.cart.length, 2);
  });

  it('without the headers nothing changes for today\'s clients: writes are unconditional', async () => {
    await call('POST', '/v2/baskets/users/m5/products/a', 'm5', { body: { count: 1 } });
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => call('POST', `/v2/baskets/users/m5/products/p${i}`, 'm5', { body: { count: 1 } })));
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.equal((await call('GET', '/v2/baskets/users/m5', 'm5')).etag, '"v6"');
  });
});

describe('CORS', () => {
  it('allows If-Match and If-None-Match in preflights and exposes ETag', async () => {
    const origin = 'https://app.acme.example';
    const pre = await t.server.app.inject({
      method: 'OPTIONS',
      url: '/v2/baskets/users/c1/products/a',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'if-match' },
    });
    assert.equal(pre.statusCode, 204);
    const allowed = String(pre.headers['access-control-allow-headers']).split(/,\s*/).map((h) => h.toLowerCase());
    assert.ok(allowed.includes('if-match') && allowed.includes('if-none-match'));
    const token = await t.acmeToken('c1');
    const real = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/c1', headers: { ...userHeaders('acme-api-key-0001', token), origin } });
    assert.equal(real.statusCode, 200);
    assert.ok(String(real.headers['access-control-expose-headers']).split(/,\s*/).includes('ETag'));
  });
});
