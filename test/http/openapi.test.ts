/**
 * The OpenAPI document a partner builds on (issue 21): fetched from a real listening server, linted with redocly's
 * recommended rules plus the repository's own (redocly.yaml: no catch-all error responses), and checked for what
 * a generated client needs: named schemas, errors by status with their codes, headers, media types, optional bodies.
 * The document does not depend on the store: run on SQLite only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lint, loadConfig, type NormalizedProblem } from '@redocly/openapi-core';
import { ERRORS } from '../../src/domain/errors.js';
import { finishDocument } from '../../src/http/openapi.js';
import { startTestServer, TEST_STORE, type TestServer } from './harness.js';

type Json = Record<string, any>;

const skip = TEST_STORE !== 'sqlite' && 'the document does not depend on the store';
const ROOT = path.resolve(import.meta.dirname, '../..');
let t: TestServer;
let base: string;
let doc: Json;
const dir = mkdtempSync(path.join(tmpdir(), 'basket-openapi-'));

/** Lints a document with the repository's redocly.yaml; returns the problems. */
async function redoclyLint(document: unknown): Promise<NormalizedProblem[]> {
  const file = path.join(dir, `openapi-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(document));
  const config = await loadConfig({ configPath: path.join(ROOT, 'redocly.yaml') });
  return lint({ ref: file, config });
}

const show = (problems: NormalizedProblem[]) => problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? ''}`).join('\n');

function operations(d: Json): { path: string; method: string; op: Json }[] {
  return Object.entries(d.paths as Json).flatMap(([p, item]) => Object.entries(item as Json).map(([method, op]) => ({ path: p, method, op: op as Json })));
}
const byId = (id: string): Json => {
  const found = operations(doc).find((o) => o.op.operationId === id);
  assert.ok(found, `operation ${id}`);
  return found.op;
};
const exampleCodes = (response: Json): number[] =>
  Object.values(response.content['application/json'].examples as Json).map((e) => (e as Json).value.error.code as number);

describe('the OpenAPI document', { skip }, () => {
  before(async () => {
    t = await startTestServer({ PORT: '0' });
    base = await t.server.listen();
    const res = await fetch(`${base}/openapi.json`);
    assert.equal(res.status, 200);
    doc = (await res.json()) as Json;
  });
  after(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes redocly lint (recommended rules and redocly.yaml) with no error and no warning', async () => {
    const problems = await redoclyLint(doc);
    assert.equal(problems.length, 0, show(problems));
  });

  it('makes the lint fail for an operation without an error table (a route added without x-errors)', async () => {
    const copy = structuredClone(doc);
    const envelope = { $ref: '#/components/schemas/ErrorEnvelope' };
    copy.paths['/v2/new-route'] = {
      get: finishDocument({
        paths: {
          '/x': {
            get: {
              operationId: 'newRoute',
              summary: 'A route added later',
              security: [],
              responses: { '200': { description: 'ok' }, '4XX': { description: 'Default Response', content: { 'application/json': { schema: envelope } } } },
            },
          },
        },
      }).paths['/x'].get,
    };
    const problems = await redoclyLint(copy);
    assert.ok(
      problems.some((p) => p.ruleId === 'rule/named-error-responses' && p.severity === 'error'),
      `expected the named-error-responses error, got:\n${show(problems)}`,
    );
  });

  it('is OpenAPI 3.1 with named component schemas that the operations reference', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.license.identifier, 'MIT');
    for (const name of ['Basket', 'Line', 'CheckoutLine', 'ErrorEnvelope', 'Error', 'Order', 'OrderLine', 'CheckoutSession', 'Guest', 'Transfer', 'ProductInfo', 'ComfortSettings']) {
      assert.ok(doc.components.schemas[name], `components.schemas.${name}`);
    }
    assert.ok(!Object.keys(doc.components.schemas).some((n) => n.startsWith('def-')), 'no anonymous def-N schemas');
    const basket = byId('getBasket').responses['200'].content['application/json'].schema;
    assert.equal(basket.properties.data.$ref, '#/components/schemas/Basket');
  });

  it('names every error response by status, with an example of each code it can carry', () => {
    for (const { path: p, method, op } of operations(doc)) {
      const statuses = Object.keys(op.responses);
      assert.ok(!statuses.includes('4XX') && !statuses.includes('5XX'), `${method} ${p}: catch-all error response`);
      const errors = statuses.filter((s) => Number(s) >= 400);
      assert.ok(errors.length > 0, `${method} ${p}: no error responses`);
      const schema = op.responses[errors[0]!].content['application/json'].schema.$ref as string;
      if (!schema.endsWith('/ErrorEnvelope')) {
        // the shop surface: `{"message"}` bodies (the token endpoint: RFC 6749's `{"error"}`), every one with examples
        assert.ok(p === '/oauth2/token' || p.startsWith('/api/'), `${method} ${p}: not a shop path but ${schema}`);
        for (const status of errors) {
          const r = op.responses[status].content['application/json'];
          assert.equal(r.schema.$ref, schema, `${method} ${p}: one error format`);
          for (const e of Object.values(r.examples as Json)) assert.equal(typeof ((e as Json).value.message ?? (e as Json).value.error), 'string');
        }
        continue;
      }
      for (const status of errors) {
        for (const code of exampleCodes(op.responses[status])) {
          const kinds = Object.values(ERRORS).filter((e) => e.code === code);
          assert.ok(kinds.some((k) => String(k.status) === status), `${method} ${p}: code ${code} under status ${status}`);
        }
      }
    }
    assert.deepEqual(exampleCodes(byId('redeemTransferToken').responses['410']), [2017]);
    assert.deepEqual(exampleCodes(byId('createGuestBasket').responses['410']), [2017]);
    assert.deepEqual(exampleCodes(byId('deleteBasket').responses['423']), [423]);
    assert.deepEqual(exampleCodes(byId('assignProductToBasket').responses['422']).sort((a, b) => a - b), [2008, 3002]);
    assert.deepEqual(exampleCodes(byId('checkoutBasket').responses['409']).sort((a, b) => a - b), [409, 2013, 2014]);
    assert.deepEqual(exampleCodes(byId('getBasket').responses['401']).sort((a, b) => a - b), [2002, 2023]);
  });

  it('documents header parameters and response headers', () => {
    const params = (id: string) => (byId(id).parameters as Json[]).map((p) => (p.$ref as string | undefined) ?? `${p.in}:${p.name}`);
    assert.ok(params('getBasket').includes('#/components/parameters/ApiVersion'));
    assert.ok(params('getBasket').includes('#/components/parameters/Tracking'));
    assert.ok(params('checkoutBasket').includes('#/components/parameters/IdempotencyKey'));
    assert.ok(!params('getBasket').includes('#/components/parameters/IdempotencyKey'));
    assert.equal(doc.components.parameters.ApiVersion.name, 'X-API-Version');
    assert.equal(doc.components.parameters.Tracking.name, 'X-JAY-Tracking');
    assert.equal(doc.components.parameters.IdempotencyKey.name, 'Idempotency-Key');
    const ok = byId('checkoutBasket').responses['200'].headers;
    assert.deepEqual(Object.keys(ok).sort(), ['Idempotent-Replayed', 'X-API-Version', 'X-Request-Id']);
    assert.ok(byId('getBasket').responses['429'].headers['Retry-After']);
  });

  it('gives the QR code image/png, the public routes no security, optional bodies as optional', () => {
    const qr = byId('getTransferQrCode');
    assert.deepEqual(Object.keys(qr.responses['200'].content), ['image/png']);
    assert.deepEqual(qr.security, []);
    for (const id of ['healthz', 'readyz', 'jwks']) assert.deepEqual(byId(id).security, [], id);
    assert.equal(byId('jwks').responses['200'].content['application/json'].schema.$ref, '#/components/schemas/JsonWebKeySet');
    for (const id of ['assignProductToBasket', 'updateProductInBasket', 'createGuestBasket', 'transferBasket', 'checkoutBasket', 'updateComfortBasketSettings']) {
      assert.equal(byId(id).requestBody.required, false, id);
    }
    for (const id of ['finishActiveCheckout', 'getProductInformation', 'putProduct']) assert.equal(byId(id).requestBody.required, true, id);
  });

  it('carries the seed examples on requests and responses', () => {
    const basket = byId('getBasket').responses['200'].content['application/json'].examples.basket.value;
    assert.equal(basket.data.expires, '2025-06-29T08:12:34Z');
    assert.deepEqual(basket.data.cart[0], { productId: 'prod-123', count: 2 });
    assert.deepEqual(byId('finishActiveCheckout').requestBody.content['application/json'].examples.ordered.value, { ordered: true });
    assert.ok(byId('assignProductToBasket').requestBody.content['application/json'].examples.cart);
  });

  it('serves /docs with the landing page security headers', async () => {
    for (const url of ['/docs/', '/docs/static/swagger-initializer.js']) {
      const res = await fetch(`${base}${url}`);
      assert.equal(res.status, 200, url);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /frame-ancestors 'none'/, url);
      assert.match(csp, /base-uri 'none'/, url);
      assert.match(csp, /default-src 'self'/, url);
      assert.doesNotMatch(csp, /validator\.swagger\.io|upgrade-insecure-requests/, url);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', url);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', url);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', url);
      assert.equal(res.headers.get('cache-control'), 'no-store', url);
      await res.arrayBuffer();
    }
  });
});
