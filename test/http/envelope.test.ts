import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ACME_KEY, DEMO_KEY, startTestServer, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

function assertError(res: { statusCode: number; json(): unknown }, status: number, code: number): EnvelopeBody {
  assert.equal(res.statusCode, status);
  const body = res.json() as EnvelopeBody;
  assert.deepEqual(Object.keys(body), ['data', 'nextToken', 'error']);
  assert.equal(body.data, null);
  assert.equal(body.nextToken, null);
  assert.equal(body.error?.code, code);
  assert.equal(typeof body.error?.message, 'string');
  return body;
}

describe('envelope on every failure', () => {
  it('404 for unknown routes', async () => {
    const res = await t.server.app.inject({ method: 'GET', url: '/v2/nothing/here' });
    assertError(res, 404, 404);
  });

  it('405 with Allow for a known path with another method', async () => {
    const res = await t.server.app.inject({ method: 'PUT', url: '/v2/baskets/users/u1', headers: { 'x-api-key': DEMO_KEY } });
    const body = assertError(res, 405, 405);
    assert.match(String(res.headers.allow), /DELETE/);
    assert.match(String(res.headers.allow), /GET/);
    assert.match(body.error!.message, /PUT/);
    const bare = await t.server.app.inject({ method: 'PUT', url: '/baskets/products/details' });
    assertError(bare, 405, 405);
  });

  it('413 3006 for a body over the limit', async () => {
    const token = await t.demoToken('big');
    const res = await t.server.app.inject({
      method: 'POST',
      url: '/v2/baskets/users/big/products/prod-123',
      headers: userHeaders(DEMO_KEY, token, { 'content-type': 'application/json' }),
      payload: JSON.stringify({ count: 1, pad: 'x'.repeat(20_000) }),
    });
    assertError(res, 413, 3006);
  });

  it('415 3007 for a body that is not JSON', async () => {
    const token = await t.demoToken('ct');
    const res = await t.server.app.inject({
      method: 'POST',
      url: '/v2/baskets/users/ct/products/prod-123',
      headers: userHeaders(DEMO_KEY, token, { 'content-type': 'application/x-www-form-urlencoded' }),
      payload: 'count=1',
    });
    assertError(res, 415, 3007);
  });

  it('400 for malformed JSON, and prototype poisoning is refused', async () => {
    const token = await t.demoToken('mj');
    for (const payload of ['{"count": 1', '{"__proto__": {"x": 1}}']) {
      const res = await t.server.app.inject({
        method: 'POST',
        url: '/v2/baskets/users/mj/products/prod-123',
        headers: userHeaders(DEMO_KEY, token, { 'content-type': 'application/json' }),
        payload,
      });
      assert.equal(res.statusCode, 400, payload);
      assert.equal((res.json() as EnvelopeBody).data, null);
      assert.equal((res.json() as EnvelopeBody).error?.code, 400);
    }
    const res = await t.server.app.inject({
      method: 'POST',
      url: '/v2/baskets/users/mj/products/prod-123',
      headers: userHeaders(DEMO_KEY, token, { 'content-type': 'application/json' }),
      payload: '{"count": 1',
    });
    assert.deepEqual((res.json() as EnvelopeBody).error, { code: 400, message: 'Body is not valid JSON', details: 'MALFORMED_JSON' });
  });

  it('422 3002 for bad path parameters', async () => {
    const long = 'u'.repeat(300);
    const token = await t.demoToken(long);
    const res = await t.server.app.inject({ method: 'GET', url: `/v2/baskets/users/${long}`, headers: userHeaders(DEMO_KEY, token) });
    const body = assertError(res, 422, 3002);
    assert.deepEqual((body.error?.details as { field: string }[])[0]?.field, 'params.userId');
  });

  it('500 3001 without internals for an unexpected failure, 503 3005 when the store is gone', async () => {
    const other = await startTestServer();
    const token = await other.demoToken('x');
    await other.server.store.close();
    const res = await other.server.app.inject({ method: 'GET', url: '/v2/baskets/users/x', headers: userHeaders(DEMO_KEY, token) });
    assert.ok(res.statusCode === 500 || res.statusCode === 503, `status ${res.statusCode}`);
    const body = res.json() as EnvelopeBody;
    assert.equal(body.data, null);
    assert.ok(body.error?.code === 3001 || body.error?.code === 3005);
    assert.doesNotMatch(res.body, /at .*\.(ts|js):\d+|stack|sqlite/i, 'no stack or internals in the body');
    const ready = await other.server.app.inject({ method: 'GET', url: '/readyz' });
    assertError(ready, 503, 3005);
    assert.equal(ready.headers['retry-after'], '1');
    await other.close();
  });
});

describe('API version negotiation', () => {
  it('uses the default, echoes a supported one under either header, refuses others with 406', async () => {
    const token = await t.demoToken('v1');
    const h = userHeaders(DEMO_KEY, token);
    const plain = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/v1', headers: h });
    assert.equal(plain.headers['x-api-version'], '2025-09-15');
    for (const name of ['x-api-version', 'x-jay-api-version']) {
      const older = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/v1', headers: { ...h, [name]: '2025-07-21' } });
      assert.equal(older.statusCode, 200);
      assert.equal(older.headers['x-api-version'], '2025-07-21');
      const unknown = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/v1', headers: { ...h, [name]: '2024-01-01' } });
      assertError(unknown, 406, 406);
      assert.equal(unknown.headers['x-api-version'], '2025-09-15');
    }
  });
});

describe('CORS per partner', () => {
  it('answers preflights for origins a partner allows', async () => {
    const res = await t.server.app.inject({
      method: 'OPTIONS',
      url: '/v2/baskets/users/u1',
      headers: { origin: 'https://app.acme.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key,authorization' },
    });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.acme.example');
    assert.match(String(res.headers['access-control-allow-headers']), /X-API-Key/);
  });

  it('gives no CORS headers to a preflight from an origin no partner allows', async () => {
    const other = await startTestServer({ DEV_PARTNER: 'false' });
    try {
      const res = await other.server.app.inject({
        method: 'OPTIONS',
        url: '/v2/baskets/users/u1',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.notEqual(res.statusCode, 204);
      assert.equal((res.json() as EnvelopeBody).data, null);
    } finally {
      await other.close();
    }
  });

  it('allows on a real request only the origins of the calling partner, and exposes X-API-Version', async () => {
    const token = await t.acmeToken('c1');
    const good = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/c1', headers: { ...userHeaders(ACME_KEY, token), origin: 'https://app.acme.example' } });
    assert.equal(good.headers['access-control-allow-origin'], 'https://app.acme.example');
    assert.match(String(good.headers['access-control-expose-headers']), /X-API-Version/);
    const bad = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/c1', headers: { ...userHeaders(ACME_KEY, token), origin: 'https://evil.example' } });
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
    // the demo partner allows any origin
    const demo = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/c1', headers: { ...userHeaders(DEMO_KEY, await t.demoToken('c1')), origin: 'https://evil.example' } });
    assert.equal(demo.headers['access-control-allow-origin'], 'https://evil.example');
  });
});

describe('OpenAPI, docs and health', () => {
  it('serves an OpenAPI 3 document with the spec operation ids', async () => {
    const res = await t.server.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { operationId?: string }>> };
    assert.match(doc.openapi, /^3\./);
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    for (const id of ['getBasket', 'deleteBasket', 'assignProductToBasket', 'updateProductInBasket', 'deleteProductFromBasket', 'getProductInformation']) {
      assert.equal(ops.filter((o) => o === id).length, 1, id);
    }
    assert.ok(doc.paths['/v2/baskets/users/{userId}'], 'documented under /v2 with OpenAPI path parameters');
  });

  it('serves the interactive docs', async () => {
    const res = await t.server.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /swagger/i);
  });

  it('answers liveness and readiness', async () => {
    const live = await t.server.app.inject({ method: 'GET', url: '/healthz' });
    assert.deepEqual(live.json(), { data: { status: 'ok' }, nextToken: null, error: null });
    const ready = await t.server.app.inject({ method: 'GET', url: '/readyz' });
    assert.deepEqual(ready.json(), { data: { status: 'ready' }, nextToken: null, error: null });
  });

  it('serves the public service keys', async () => {
    const res = await t.server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    const jwks = res.json() as { keys: Record<string, unknown>[] };
    assert.ok(jwks.keys.length >= 1);
    for (const k of jwks.keys) assert.equal(k.d, undefined, 'no private part');
  });
});

describe('NUL characters', () => {
  it('are refused in the URL and in JSON bodies with 422 3002, never stored', async () => {
    const token = await t.demoToken('nul');
    const h = userHeaders(DEMO_KEY, token, { 'content-type': 'application/json' });
    const inUrl = await t.server.app.inject({ method: 'POST', url: '/v2/baskets/users/nul/products/a%00b', headers: h, payload: '{}' });
    const body = assertError(inUrl, 422, 3002);
    assert.deepEqual(body.error?.details, [{ field: 'url', message: 'must not contain NUL characters' }]);
    assert.equal(inUrl.headers['x-api-version'], '2025-09-15');
    const inBody = await t.server.app.inject({ method: 'POST', url: '/v2/baskets/guests', headers: h, payload: '{"products":[{"productId":"x\\u0000y","count":1}]}' });
    assert.deepEqual(assertError(inBody, 422, 3002).error?.details, [{ field: 'body', message: 'must not contain NUL characters' }]);
    const inKey = await t.server.app.inject({ method: 'PATCH', url: '/v2/baskets/users/nul/comfort', headers: h, payload: '{"a\\u0000":1}' });
    assertError(inKey, 422, 3002);
  });

  it('an escaped backslash followed by u0000 is text, not a NUL', async () => {
    const token = await t.demoToken('nul2');
    const res = await t.server.app.inject({
      method: 'PATCH',
      url: '/v2/baskets/users/nul2/comfort',
      headers: userHeaders(DEMO_KEY, token, { 'content-type': 'application/json' }),
      payload: JSON.stringify({ customerId: 'cus\\u0000x' }),
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((res.json() as EnvelopeBody<{ customerId: string }>).data.customerId, 'cus\\u0000x');
  });

  it('are refused in catalogue lines', async () => {
    const res = await t.server.app.inject({
      method: 'POST',
      url: '/admin/products:import?partner=demo',
      headers: { 'x-admin-key': 'test-admin-key-123', 'content-type': 'application/x-ndjson' },
      payload: '{"productId":"n1","name":"a\\u0000b","currency":"EUR"}',
    });
    const body = assertError(res, 422, 3002);
    assert.deepEqual(body.error?.details, [{ field: 'line 1', message: 'must not contain NUL characters' }]);
  });
});
