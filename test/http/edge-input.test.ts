/**
 * Issue 17 at the edge, request by request: keys are checked before a body is read (item 3), deep nesting and
 * strings that are not well-formed Unicode are 422 `3002` on every route and store, never a 5xx (item 5), and
 * Fastify's own refusals come in the envelope (item 9). Runs on TEST_STORE.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ADMIN_KEY, DEMO_KEY, TEST_STORE, startTestServer, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';

let t: TestServer;
let port: number;
before(async () => {
  t = await startTestServer();
  const address = await t.server.app.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(address).port);
});
after(() => t.close());

interface RawAnswer {
  /** The status line's code, or 0 when the connection closed without an answer. */
  status: number;
  headers: string;
  body: string;
  /** Milliseconds from sending the request's head to the answer (or the close). */
  ms: number;
}

/**
 * Sends `head` (and nothing more unless `body`), then waits for the server's answer without ever sending the rest
 * of a declared body: the answer must come from the headers alone.
 */
function rawRequest(head: string, body = '', waitMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head + body));
    let out = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const [headers = '', rest = ''] = out.split('\r\n\r\n', 2);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0), headers, body: rest, ms: Date.now() - started });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const [headers, rest] = out.split('\r\n\r\n', 2);
      const length = Number(/content-length: (\d+)/i.exec(headers ?? '')?.[1] ?? -1);
      if (rest !== undefined && length >= 0 && Buffer.byteLength(rest) >= length) finish();
    });
    socket.on('close', finish);
    socket.on('error', finish);
  });
}

const envelopeOf = (body: string) => JSON.parse(body) as EnvelopeBody;

describe(`authentication before the body (issue 17 item 3, ${TEST_STORE})`, () => {
  it('a keyless 60 MB admin import is refused 401 from its headers alone, and the connection closed', async () => {
    const head = `POST /admin/products:import?partner=acme HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${60 * 1024 * 1024}\r\n\r\n`;
    const r = await rawRequest(head, '{"productId":"a"');
    assert.equal(r.status, 401, `answer: ${r.headers}`);
    assert.equal(envelopeOf(r.body).error?.code, 2023);
    assert.match(r.headers, /connection: close/i);
  });

  it('a keyless PUT of a product with a bad body is 401, not 422 with schema details', async () => {
    const res = await t.server.app.inject({ method: 'PUT', url: '/admin/products/x?partner=acme', headers: { 'content-type': 'application/json' }, payload: '{"name":5}' });
    assert.equal(res.statusCode, 401);
    assert.equal((res.json() as EnvelopeBody).error?.code, 2023);
  });

  it('a Stripe webhook without a well-formed, fresh signature is refused from its headers alone', async () => {
    const now = Math.floor(t.clock.now / 1000);
    for (const signature of [null, 'garbage', `t=${now},v1=short`, `t=${now - 3600},v1=${'a'.repeat(64)}`]) {
      const head =
        `POST /psp/stripe/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000\r\n` +
        (signature ? `Stripe-Signature: ${signature}\r\n` : '') +
        '\r\n';
      const r = await rawRequest(head, '{"id":"evt_');
      assert.equal(r.status, 400, `${signature}: ${r.headers}`);
      assert.equal(envelopeOf(r.body).error?.code, 400);
    }
  });

  it('guest creation without an API key is refused from its headers alone', async () => {
    const r = await rawRequest('POST /v2/baskets/guests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n', '{"products":');
    assert.equal(r.status, 401);
    assert.equal(envelopeOf(r.body).error?.code, 2023);
  });

  it('the admin import keeps its own size limit: a declared 65 MiB is 413 3006 before reading', async () => {
    const head = `POST /admin/products:import?partner=acme HTTP/1.1\r\nHost: x\r\nX-Admin-Key: ${ADMIN_KEY}\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${65 * 1024 * 1024}\r\n\r\n`;
    const r = await rawRequest(head, '{"productId":"a"');
    assert.equal(r.status, 413);
    assert.equal(envelopeOf(r.body).error?.code, 3006);
  });

  it('the streamed admin import is still all or nothing, over many chunks and with CRLF lines', async () => {
    const lines = Array.from({ length: 400 }, (_, i) => JSON.stringify({ productId: `stream-${i}`, name: `Streamed ${i} ${'x'.repeat(200)}`, price: 1, currency: 'EUR' }));
    const good = await t.server.app.inject({
      method: 'POST',
      url: '/admin/products:import?partner=acme',
      headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/x-ndjson' },
      payload: lines.join('\r\n'),
    });
    assert.equal(good.statusCode, 200, good.body);
    assert.equal((good.json() as EnvelopeBody<{ imported: number }>).data.imported, 400);
    const bad = await t.server.app.inject({
      method: 'POST',
      url: '/admin/products:import?partner=acme',
      headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/x-ndjson' },
      payload: [JSON.stringify({ productId: 'stream-new', name: 'n', currency: 'EUR' }), '{"productId":"x"'].join('\n'),
    });
    assert.equal(bad.statusCode, 422);
    assert.deepEqual((bad.json() as EnvelopeBody).error?.details, [{ field: 'line 2', message: 'not valid JSON' }]);
    assert.equal((await t.server.store.getProducts('acme', ['stream-new'])).size, 0);
  });
});

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe(`bad input never looks like a server fault (issue 17 item 5, ${TEST_STORE})`, () => {
  it('a checkout with an Idempotency-Key and a body nested 4,000 levels deep: 422 3002', async () => {
    const token = await t.demoToken('deep-1');
    const res = await t.server.app.inject({
      method: 'POST',
      url: '/v2/baskets/users/deep-1/checkout/sessions',
      headers: userHeaders(DEMO_KEY, token, { 'content-type': 'application/json', 'idempotency-key': 'deep-key' }),
      payload: `{"language":"en","x":${nested(4000)}}`,
    });
    assert.equal(res.statusCode, 422, res.body);
    assert.equal((res.json() as EnvelopeBody).error?.code, 3002);
  });

  it('nesting up to the limit is parsed; one level more is refused', async () => {
    const token = await t.demoToken('deep-2');
    const send = (payload: string) =>
      t.server.app.inject({ method: 'POST', url: '/v2/baskets/users/deep-2/products/p1', headers: userHeaders(DEMO_KEY, token, { 'content-type': 'application/json' }), payload });
    // 32 levels: parsed, then refused by the schema (422 with the schema's message, not the depth's)
    const ok = await send(`{"count":1,"x":${nested(31)}}`);
    assert.doesNotMatch(String((ok.json() as EnvelopeBody).error?.message), /deeper/);
    const deep = await send(`{"count":1,"x":${nested(32)}}`);
    assert.equal(deep.statusCode, 422);
    assert.match(String((deep.json() as EnvelopeBody).error?.message), /deeper than 32/);
    // brackets inside strings are not nesting
    const inString = await send(JSON.stringify({ count: 1, variant: '['.repeat(100) }));
    assert.doesNotMatch(String((inString.json() as EnvelopeBody).error?.message), /deeper/);
  });

  it('an admin import line nested 5,000 levels deep: 422 3002 naming the line', async () => {
    const res = await t.server.app.inject({
      method: 'POST',
      url: '/admin/products:import?partner=acme',
      headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/x-ndjson' },
      payload: `{"productId":"ok","name":"n","currency":"EUR"}\n{"productId":"deep","name":"n","currency":"EUR","x":${deepObject(5000)}}`,
    });
    assert.equal(res.statusCode, 422, res.body);
    const body = res.json() as EnvelopeBody;
    assert.equal(body.error?.code, 3002);
    assert.deepEqual(body.error?.details, [{ field: 'line 2', message: 'nested deeper than 32 levels' }]);
  });

  it('a lone surrogate is 422 3002 in every body: product, import line, product details, guest creation, assign, transfer', async () => {
    const token = await t.demoToken('lone-1');
    const json = { 'content-type': 'application/json' };
    const cases: { name: string; method: 'POST' | 'PUT'; url: string; headers: Record<string, string>; payload: string }[] = [
      { name: 'product name', method: 'PUT', url: '/admin/products/lone?partner=acme', headers: { ...json, 'x-admin-key': ADMIN_KEY }, payload: '{"name":"Dress \\ud800","currency":"EUR"}' },
      { name: 'product details', method: 'POST', url: '/v2/baskets/products/details', headers: { ...json, 'x-api-key': DEMO_KEY }, payload: '["\\ud800"]' },
      { name: 'guest creation', method: 'POST', url: '/v2/baskets/guests', headers: { ...json, 'x-api-key': DEMO_KEY }, payload: '{"products":[{"productId":"\\udfff"}]}' },
      { name: 'assign variant', method: 'POST', url: '/v2/baskets/users/lone-1/products/p1', headers: userHeaders(DEMO_KEY, token, json), payload: '{"count":1,"\\ud83d":1}' },
      { name: 'transfer URL', method: 'POST', url: '/v2/baskets/users/lone-1/transfer', headers: userHeaders(DEMO_KEY, token, json), payload: '{"url":"https://shop.example.com/\\ud800"}' },
    ];
    for (const c of cases) {
      const res = await t.server.app.inject({ method: c.method, url: c.url, headers: c.headers, payload: c.payload });
      assert.equal(res.statusCode, 422, `${c.name}: ${res.body}`);
      assert.equal((res.json() as EnvelopeBody).error?.code, 3002, c.name);
      assert.equal(res.headers['retry-after'], undefined, c.name);
    }
    const line = await t.server.app.inject({
      method: 'POST',
      url: '/admin/products:import?partner=acme',
      headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/x-ndjson' },
      payload: '{"productId":"lone-\\ud800","name":"n","currency":"EUR"}',
    });
    assert.equal(line.statusCode, 422, line.body);
    assert.deepEqual((line.json() as EnvelopeBody).error?.details, [{ field: 'line 1', message: 'must be well-formed Unicode (no lone surrogates)' }]);
    // a surrogate pair is well-formed: the emoji is kept
    const pair = await t.server.app.inject({ method: 'PUT', url: '/admin/products/pair?partner=acme', headers: { ...json, 'x-admin-key': ADMIN_KEY }, payload: '{"name":"Cart \\ud83d\\uded2","currency":"EUR"}' });
    assert.equal(pair.statusCode, 200, pair.body);
    assert.equal((pair.json() as EnvelopeBody<{ name: string }>).data.name, 'Cart 🛒');
  });

  it('a URL that is not percent-encoded UTF-8 (path or query, an encoded lone surrogate too) is 422 3002 in the envelope', async () => {
    const token = await t.demoToken('lone-2');
    for (const url of [
      '/v2/baskets/users/%ZZ',
      '/v2/baskets/users/%ED%A0%80',
      '/v2/baskets/users/lone-2/products/%F0',
      '/v2/baskets/guests?jayToken=%ED%A0%80',
      '/v2/baskets/users/lone-2?x=%ZZ',
      '/baskets/transfers/%ED%A0%80/qr.png',
    ]) {
      const res = await t.server.app.inject({ method: 'GET', url, headers: userHeaders(DEMO_KEY, token) });
      assert.equal(res.statusCode, 422, `${url}: ${res.body}`);
      const body = res.json() as EnvelopeBody;
      assert.equal(body.error?.code, 3002, url);
      assert.equal(body.data, null);
      assert.equal(typeof res.headers['x-request-id'], 'string', url);
    }
  });
});

describe('every error in the envelope (issue 17 item 9)', () => {
  it('headers over the limit: 431 in the envelope', async () => {
    const r = await rawRequest(`GET /v2/baskets/users/u1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(r.status, 431);
    assert.equal(envelopeOf(r.body).error?.code, 431);
  });

  it('headers over the limit on a shop path: 431 with the shop\'s message beside the envelope (the path is not read yet)', async () => {
    const r = await rawRequest(`POST /api/checkout/initiate HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(r.status, 431);
    const body = JSON.parse(r.body) as EnvelopeBody & { message?: string };
    assert.equal(body.message, 'Request headers too large');
    assert.equal(body.error?.code, 431);
  });

  it('a malformed body on a shop path: 400 as the shop\'s {"message"} alone; on a device path in the envelope', async () => {
    const chunked = (url: string) =>
      `POST ${url} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n`;
    const shop = await rawRequest(chunked('/oauth2/token'));
    assert.equal(shop.status, 400);
    assert.deepEqual(JSON.parse(shop.body), { message: 'Malformed HTTP request' });
    const device = await rawRequest(chunked('/landing'));
    assert.equal(device.status, 400);
    assert.equal(envelopeOf(device.body).error?.code, 400);
  });

  it('a malformed request line: 400 in the envelope', async () => {
    const r = await rawRequest('NOT HTTP AT ALL\r\n\r\n');
    assert.equal(r.status, 400);
    assert.equal(envelopeOf(r.body).error?.code, 400);
  });

  it('a text/plain body where JSON is expected: 415 3007', async () => {
    const token = await t.demoToken('text-1');
    for (const [method, url, headers] of [
      ['POST', '/v2/baskets/users/text-1/products/p1', userHeaders(DEMO_KEY, token)],
      ['PUT', '/admin/products/text?partner=acme', { 'x-admin-key': ADMIN_KEY }],
    ] as const) {
      const res = await t.server.app.inject({ method, url, headers: { ...headers, 'content-type': 'text/plain' }, payload: '{"count":1}' });
      assert.equal(res.statusCode, 415, `${url}: ${res.body}`);
      assert.equal((res.json() as EnvelopeBody).error?.code, 3007);
    }
  });

  it('a preflight from an origin no partner allows: 403 in the envelope, no CORS and no Allow headers', async () => {
    const other = await startTestServer({ DEV_PARTNER: 'false' });
    try {
      const res = await other.server.app.inject({
        method: 'OPTIONS',
        url: '/v2/baskets/users/u1',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.headers.allow, undefined);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.equal(res.headers['access-control-allow-methods'], undefined);
      assert.equal((res.json() as EnvelopeBody).error?.code, 403);
    } finally {
      await other.close();
    }
  });

  it("keeps a client's X-Request-Id only when short and plain", async () => {
    const ask = async (id: string) => (await t.server.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': id } })).headers['x-request-id'];
    assert.equal(await ask('trace-42.a:b_c-d'), 'trace-42.a:b_c-d');
    for (const id of ['x'.repeat(8192), 'x'.repeat(65), 'has space', '<script>', 'ünï']) {
      const answered = String(await ask(id));
      assert.match(answered, /^[0-9a-f-]{36}$/, `${id.slice(0, 20)} → ${answered.slice(0, 40)}`);
    }
  });
});
