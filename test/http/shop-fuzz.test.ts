/**
 * Bad input never gets a 5xx on the shop surface: every `/api/...` operation of the OpenAPI document receives random
 * bodies (mostly of the shapes the routes take, so that requests reach the handlers), queries, landing-state cookies,
 * cursors, recovery tokens and headers (property-based, fast-check), mostly with a valid shop token. Every answer is
 * below 500, and every error is the shop's `{"message"}` (the recovery link's page for browsers aside).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestServer, type TestServer } from './harness.js';
import { DEMO, initiate, item, loadOffers, SHOP_ENV, shopToken } from './shop-helpers.js';

let t: TestServer;
let token: string;
let basketId: string;
let cursor: string;
let recoveryQuery: string;
before(async () => {
  t = await startTestServer(SHOP_ENV);
  await loadOffers(t, DEMO);
  token = await shopToken(t);
  for (let i = 0; i < 3; i++) basketId = (await initiate(t, token, { orderItems: [item('basic-monthly')] })).body.id;
  const page = await t.server.app.inject({ method: 'GET', url: '/api/checkout/abandoned?createdAfter=2000-01-01T00:00:00Z&limit=1', headers: { authorization: `Bearer ${token}` } });
  const body = page.json() as { items: Array<{ recoveryLink: string }>; queryMore: string };
  cursor = body.queryMore;
  recoveryQuery = new URL(body.items[0]!.recoveryLink).search;
});
after(() => t?.close());

interface Operation {
  method: string;
  path: string;
}

function shopOperations(doc: { paths: Record<string, Record<string, unknown>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [p, methods] of Object.entries(doc.paths)) {
    if (!p.startsWith('/api/')) continue;
    for (const m of Object.keys(methods)) if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) ops.push({ method: m.toUpperCase(), path: p });
  }
  return ops;
}

const text = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('', ' ', '__proto__', 'constructor', '🛒', '\u0000', 'a'.repeat(300), 'basket-x', 'item-1'));
const offerRef = fc.oneof(
  fc.record({ id: fc.constantFrom('basic-monthly', 'premium-monthly', 'sports', 'screen', 'dollars', 'offer-prod-123'), version: fc.constantFrom('v1', 'v2') }),
  fc.record({ id: text, version: text }, { requiredKeys: [] }),
  fc.constantFrom(null, 'basic-monthly', 5),
);
const quantity = fc.oneof(fc.integer({ min: -2, max: 120 }), fc.constantFrom(1.5, '1', null, 1e300));
const initiateItem = fc.record(
  { offer: offerRef, quantity, type: fc.constantFrom('offer', 'add_on', 'product', 'x'), parentId: fc.oneof(text, fc.constantFrom('basic-monthly', 'premium-monthly')) },
  { requiredKeys: ['offer', 'quantity', 'type'] },
);
const updateItem = fc.record(
  {
    orderItemActionType: fc.constantFrom('add', 'remove', 'quantity', 'replace'),
    offer: offerRef,
    type: fc.constantFrom('offer', 'add_on'),
    quantity,
    id: fc.oneof(text, fc.constantFrom('item-000000000000')),
    parentId: text,
  },
  { requiredKeys: ['orderItemActionType'] },
);
const freeObject = fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 5 });
const initiateBody = fc.record(
  {
    order: fc.record(
      {
        orderItems: fc.array(initiateItem, { maxLength: 6 }),
        external_id: fc.oneof(text, fc.constantFrom('ext-fuzz')),
        tracking: fc.oneof(freeObject, fc.record({ offers: fc.array(text, { maxLength: 3 }), campaign: text, tag: text }, { requiredKeys: [] })),
        country: fc.constantFrom('DE', 'de', 'GER', ''),
        source: text,
        order_type: fc.constantFrom('new', 'update_subscription', 'x'),
        customerDetails: freeObject,
        customFields: freeObject,
        jayToken: fc.oneof(text, fc.constant('x'.repeat(43))),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const orderBody = fc.record(
  {
    checkoutId: fc.oneof(text, fc.constantFrom('basket-00000000-0000-4000-8000-000000000000'), fc.constant('KNOWN')),
    customerDetails: freeObject,
    billingDetails: freeObject,
    payment: fc.oneof(fc.record({ testMode: fc.boolean() }), freeObject),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 4, arbitrary: initiateBody.map((v) => JSON.stringify(v)) },
  { weight: 4, arbitrary: fc.record({ orderItems: fc.array(updateItem, { maxLength: 6 }) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)) },
  { weight: 3, arbitrary: orderBody.map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 30, max: 3000 }).map((depth) => `{"order":${'['.repeat(depth)}${']'.repeat(depth)}}`) },
  { weight: 1, arbitrary: fc.constantFrom('{"order":{"source":"\\ud800"}}', '{"checkoutId":"a\\u0000"}', '{"orderItems":[{"orderItemActionType":"add"', '') },
);
const queryValue = fc.oneof(
  text,
  fc.constantFrom('2020-12-01T16:00:00Z', '2020-12-01T16:00:00.123+02:00', '2020-12-01', '1e9', '-1', '0', '50', '100', '101', 'CURSOR', 'CURSOR-TAMPERED', 'RECOVER'),
  fc.base64String({ maxLength: 60 }),
);
const query = fc.oneof(
  fc.constant(''),
  fc.constant('RECOVERY'),
  fc.dictionary(fc.constantFrom('createdAfter', 'limit', 'queryMore', 'basket', 'recover', 'x'), queryValue, { maxKeys: 4 }).map((d) => `?${new URLSearchParams(d).toString()}`),
  fc.constantFrom('?createdAfter=%ED%A0%80', '?queryMore=%ZZ', '?basket=%F0&recover=x', '?createdAfter=2020-01-01T00:00:00Z&createdAfter=2021-01-01T00:00:00Z'),
);
const cookie = fc.oneof(
  fc.constant(undefined),
  fc.constant('KNOWN'),
  fc.oneof(text, fc.base64String({ maxLength: 80 }), fc.constantFrom('%', '%E0%A4%A', '{"basketId":1}', '"', 'basket-00000000-0000-4000-8000-000000000000')).map((v) => `limio_state=${v}`),
  fc.string({ maxLength: 60 }),
);
const headers = fc.record(
  {
    authorization: fc.oneof({ weight: 6, arbitrary: fc.constant('VALID') }, { weight: 1, arbitrary: fc.constantFrom('Bearer x', 'Basic eDp5', '', 'Bearer ' + 'a'.repeat(5000)) }),
    'content-type': fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data') }),
    'x-limio-recaptcha': fc.oneof(text, fc.constantFrom('ok', 'invalid')),
    accept: fc.constantFrom('application/json', 'text/html', '*/*'),
    'x-forwarded-for': fc.constantFrom('1.2.3.4', 'not-an-ip', '::1'),
  },
  { requiredKeys: ['authorization'] },
);

describe('shop surface: random input', () => {
  it('never a 5xx; errors are {"message"} (property)', async () => {
    const res = await t.server.app.inject({ method: 'GET', url: '/openapi.json' });
    const ops = shopOperations(res.json() as { paths: Record<string, Record<string, unknown>> });
    const names = ops.map((o) => `${o.method} ${o.path}`);
    for (const expected of ['POST /api/checkout/initiate', 'PUT /api/checkout/update', 'POST /api/order', 'GET /api/checkout/abandoned', 'GET /api/checkout/recover']) {
      assert.ok(names.includes(expected), `${expected} is in the document`);
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ops), query, body, cookie, headers, async (op, q, b, c, h) => {
        const sent: Record<string, string> = {};
        for (const [k, v] of Object.entries(h)) if (v !== undefined) sent[k] = v === 'VALID' ? `Bearer ${token}` : v;
        if (c !== undefined) sent.cookie = c === 'KNOWN' ? `limio_state=${basketId}` : c;
        const qs = q === 'RECOVERY' ? recoveryQuery : q.replace('CURSOR-TAMPERED', `${cursor.slice(0, -2)}AA`).replace('CURSOR', cursor);
        const hasBody = op.method !== 'GET';
        const r = await t.server.app.inject({
          method: op.method as 'GET',
          url: `${op.path}${qs}`,
          headers: sent,
          ...(hasBody ? { payload: b.replace('"KNOWN"', JSON.stringify(basketId)) } : {}),
        });
        const where = `${op.method} ${op.path}${qs} ${r.statusCode}: ${r.body.slice(0, 300)}`;
        assert.ok(r.statusCode < 500, where);
        if (r.statusCode < 400) return;
        const type = String(r.headers['content-type'] ?? '');
        if (type.startsWith('text/html')) {
          assert.equal(op.path, '/api/checkout/recover', where);
          return;
        }
        assert.match(type, /^application\/json/, where);
        const parsed = r.json() as Record<string, unknown>;
        assert.deepEqual(Object.keys(parsed), ['message'], where);
        assert.equal(typeof parsed.message, 'string', where);
      }),
      { numRuns: 400 },
    );
  });
});
