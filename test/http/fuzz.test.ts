/**
 * Bad input never gets a 500: every operation of the OpenAPI document receives random path parameters, query
 * strings, content types and bodies (property-based, fast-check), with valid credentials so that requests reach
 * the handlers. Every answer must be below 500 and, where JSON, the documented envelope.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEMO_KEY, startTestServer, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

interface Operation {
  method: string;
  path: string;
}

const USER = 'fuzz-user';

/** Whether the operation's answer is a stream that stays open (inject would wait for it forever). */
function streams(operation: unknown): boolean {
  const ok = (operation as { responses?: Record<string, { content?: Record<string, unknown> }> }).responses?.['200'];
  return ok?.content?.['text/event-stream'] !== undefined;
}

/** Every operation of the document, but the change stream's (test/http/live.test.ts has its refusals). */
function operations(doc: { paths: Record<string, Record<string, unknown>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [p, methods] of Object.entries(doc.paths)) {
    for (const [m, operation] of Object.entries(methods)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(m) && !streams(operation)) ops.push({ method: m.toUpperCase(), path: p });
    }
  }
  return ops;
}

const segment = fc.oneof(
  fc.constantFrom(USER, 'prod-123', 'shoe-42', '', '..', '%2F', '%00', '🛒', ' ', 'a'.repeat(300), '__proto__', 'constructor'),
  // not percent-encoded UTF-8: a bad escape, an encoded lone surrogate, a cut-off sequence (issue 17)
  fc.constantFrom('%ZZ', '%ED%A0%80', '%F0', 'a%E2%82'),
  fc.string({ maxLength: 40 }).map((s) => encodeURIComponent(s)),
);
const query = fc.oneof(
  fc.constant(''),
  fc.dictionary(fc.constantFrom('qr', 'testMode', 'jayToken', 'limit', 'nextToken', 'partner', 'provider_id', 'x'), fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('true', 'false', '-1', '1e9', '[]'))).map(
    (d) => `?${new URLSearchParams(d).toString()}`,
  ),
  fc.constantFrom('?jayToken=%ED%A0%80', '?partner=%ZZ', '?qr=%F0', '?nextToken=%C0%AF'),
);
/** Strings that are not well-formed Unicode, as JSON escapes (issue 17): lone high and low surrogates. */
const loneSurrogate = fc.constantFrom('\\ud800', '\\udfff', 'a\\ud83d', '\\udc00b');
// mostly well-formed bodies of the shapes the routes take, so that requests get past validation into handlers
const body = fc.oneof(
  { weight: 4, arbitrary: fc.record({ count: fc.oneof(fc.integer({ min: -2, max: 120 }), fc.constant(null)) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.record({ products: fc.array(fc.record({ productId: fc.oneof(fc.constantFrom('prod-123', 'shoe-42', 'hat-1'), fc.string({ maxLength: 20 })), count: fc.integer({ min: -2, max: 120 }) }), { maxLength: 25 }) }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.record({ url: fc.oneof(fc.webUrl(), fc.string(), fc.constantFrom('javascript:alert(1)', 'data:text/html,x', 'https://a@b/', '//x')), ordered: fc.boolean() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.record({ language: fc.string({ maxLength: 4 }), country: fc.string({ maxLength: 4 }), stripeUsingSdk: fc.boolean(), customerId: fc.string(), oneClick: fc.boolean() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  // deep nesting, past the parser's depth limit (issue 17): arrays, objects, and inside a body of the right shape
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 30, max: 4000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]) => {
      const inner = (open === '[' ? '[' : '{"a":').repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth);
      return depth % 2 === 0 ? inner : `{"count":1,"products":${inner}}`;
    }),
  },
  // lone surrogates in ids, names, URLs and keys
  {
    weight: 2,
    arbitrary: fc.tuple(loneSurrogate, fc.constantFrom('id', 'guest', 'details', 'url', 'key', 'product')).map(([bad, where]) => {
      switch (where) {
        case 'id':
          return `{"count":1,"variant":"${bad}"}`;
        case 'guest':
          return `{"products":[{"productId":"${bad}","count":1}]}`;
        case 'details':
          return `["prod-123","${bad}"]`;
        case 'url':
          return `{"url":"https://shop.example.com/${bad}"}`;
        case 'key':
          return `{"${bad}":1}`;
        default:
          return `{"name":"Dress ${bad}","currency":"EUR","price":1}`;
      }
    }),
  },
  { weight: 1, arbitrary: fc.constant('') },
);
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'text/plain', 'application/x-ndjson', 'application/x-www-form-urlencoded', undefined) },
);
const withAuth = fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });

describe('no input gets a 500 (property)', () => {
  it('every documented operation answers random input below 500, in the envelope', async () => {
    const doc = (await t.server.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const ops = operations(doc);
    assert.ok(ops.length >= 20, `found ${ops.length} operations`);
    const token = await t.demoToken(USER, {}, 86_400);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ops), fc.array(segment, { minLength: 3, maxLength: 3 }), query, body, contentType, withAuth, async (op, segs, q, payload, ct, withAuth) => {
        let i = 0;
        const url = op.path.replace(/\{[^}]+\}/g, (name) => (name === '{userId}' && segs[0] !== '' ? USER : (segs[i++ % 3] ?? 'x'))) + q;
        const headers: Record<string, string> = withAuth ? { 'x-api-key': DEMO_KEY, authorization: `Bearer ${token}`, 'x-admin-key': 'test-admin-key-123' } : {};
        if (ct !== undefined) headers['content-type'] = ct;
        const sendsBody = op.method !== 'GET' && op.method !== 'DELETE';
        const res = await t.server.app.inject({ method: op.method as 'GET', url, headers, ...(sendsBody ? { payload } : {}) });
        assert.ok(res.statusCode < 500, `${op.method} ${url} ${ct ?? ''} ${payload.slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 300)}`);
        if (String(res.headers['content-type'] ?? '').startsWith('application/json') && res.statusCode >= 400) {
          // every error in its surface's format, the framework's own too (issue 17): the device envelope, the
          // shop's {"message"} (shop-api.md §1), RFC 6749's {"error"} at the token endpoint
          const b = res.json() as Record<string, unknown>;
          if (op.path === '/oauth2/token') {
            assert.ok(typeof b.error === 'string' && typeof b.error_description === 'string', `${op.method} ${url}: not an OAuth error: ${res.body.slice(0, 200)}`);
          } else if (op.path.startsWith('/api/')) {
            assert.ok(typeof b.message === 'string' && Object.keys(b).length === 1, `${op.method} ${url}: not a shop error: ${res.body.slice(0, 200)}`);
          } else {
            assert.ok(b.data === null && typeof (b.error as { code?: unknown } | null)?.code === 'number', `${op.method} ${url}: not the envelope: ${res.body.slice(0, 200)}`);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
