/**
 * Compression (issue 21): the large answers (OpenAPI document, docs assets, metrics) come compressed to a client
 * that accepts it; the device routes' JSON never does, however large.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { DEMO_KEY, startTestServer, userHeaders, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

const get = (url: string, headers: Record<string, string> = {}) => t.server.app.inject({ method: 'GET', url, headers });

describe('response compression', () => {
  it('/openapi.json comes gzipped and decodes to the same document', async () => {
    const plain = await get('/openapi.json');
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.headers['content-encoding'], undefined, 'not compressed without Accept-Encoding');
    const zipped = await get('/openapi.json', { 'accept-encoding': 'gzip' });
    assert.equal(zipped.statusCode, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.ok(zipped.rawPayload.length < plain.rawPayload.length / 3, `${zipped.rawPayload.length} bytes of ${plain.rawPayload.length}`);
    assert.deepEqual(JSON.parse(gunzipSync(zipped.rawPayload).toString('utf8')), plain.json());
  });

  it('prefers brotli when the client offers it', async () => {
    const res = await get('/openapi.json', { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(res.headers['content-encoding'], 'br');
    assert.deepEqual(JSON.parse(brotliDecompressSync(res.rawPayload).toString('utf8')), (await get('/openapi.json')).json());
  });

  it('compresses the docs assets and the metrics', async () => {
    const css = await get('/docs/static/swagger-ui.css', { 'accept-encoding': 'gzip' });
    assert.equal(css.statusCode, 200);
    assert.equal(css.headers['content-encoding'], 'gzip');
    assert.ok(gunzipSync(css.rawPayload).toString('utf8').includes('.swagger-ui'));
    const metrics = await get('/metrics', { 'accept-encoding': 'gzip' });
    assert.equal(metrics.headers['content-encoding'], 'gzip');
    assert.match(gunzipSync(metrics.rawPayload).toString('utf8'), /^# HELP /m);
  });

  it('never compresses a basket answer, however large', async () => {
    const token = await t.openToken('zip-user');
    const headers = userHeaders('open-api-key-0001', token, { 'content-type': 'application/json' });
    // a partner without a catalogue: any id goes; 20 long ids make an answer well above the 1 KB threshold
    for (let i = 0; i < 20; i++) {
      const add = await t.server.app.inject({
        method: 'POST',
        url: `/v2/baskets/users/zip-user/products/${'p'.repeat(100)}-${i}`,
        headers,
        payload: '{"count":1}',
      });
      assert.equal(add.statusCode, 200, add.body);
    }
    const basket = await get('/v2/baskets/users/zip-user', { ...headers, 'accept-encoding': 'gzip, br' });
    assert.equal(basket.statusCode, 200);
    assert.equal(basket.headers['content-encoding'], undefined);
    assert.ok(basket.rawPayload.length > 2048, `${basket.rawPayload.length} bytes`);
    assert.equal(basket.json<{ data: { cart: unknown[] } }>().data.cart.length, 20);
    // nor an error answer of the device surface
    const denied = await get('/v2/baskets/users/zip-user', { 'x-api-key': DEMO_KEY, 'accept-encoding': 'gzip' });
    assert.equal(denied.headers['content-encoding'], undefined);
  });
});
