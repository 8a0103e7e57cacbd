import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, ACME_KEY, startTestServer, userHeaders, type EnvelopeBody, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

const dress = { name: 'Blue dress', brand: 'Nova', price: 59.99, currency: 'EUR', taxRate: 19, stock: 3, images: ['https://img.example/d.jpg'] };

async function put(productId: string, body: unknown, headers: Record<string, string> = { 'x-admin-key': ADMIN_KEY }, partner = 'acme') {
  const res = await t.server.app.inject({
    method: 'PUT',
    url: `/admin/products/${productId}?partner=${partner}`,
    headers: { ...headers, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<Record<string, unknown>> };
}

async function importLines(text: string, partner = 'acme') {
  const res = await t.server.app.inject({
    method: 'POST',
    url: `/admin/products:import?partner=${partner}`,
    headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/x-ndjson' },
    payload: text,
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<{ imported: number }> };
}

describe('admin catalogue API', () => {
  it('creates and replaces a product; the device surface sees it', async () => {
    const r = await put('dress-1', dress);
    assert.equal(r.status, 200);
    assert.equal(r.body.data.price, 59.99);
    assert.equal(r.body.data.currentStockCount, 3);
    const again = await put('dress-1', { ...dress, price: 49.5, stock: null });
    assert.equal(again.body.data.price, 49.5);
    assert.equal(again.body.data.currentStockCount, null);
    const token = await t.acmeToken('buyer');
    const add = await t.server.app.inject({
      method: 'POST',
      url: '/v2/baskets/users/buyer/products/dress-1',
      headers: userHeaders(ACME_KEY, token, { 'content-type': 'application/json' }),
      payload: '{"count":2}',
    });
    assert.equal(add.statusCode, 200);
    // acme now keeps a catalogue: unknown ids are refused
    const unknown = await t.server.app.inject({ method: 'POST', url: '/v2/baskets/users/buyer/products/ghost', headers: userHeaders(ACME_KEY, token) });
    assert.equal(unknown.statusCode, 404);
    assert.equal((unknown.json() as EnvelopeBody).error?.code, 2012);
  });

  it('needs the admin key', async () => {
    for (const headers of [{}, { 'x-admin-key': 'wrong-admin-key' }] as Record<string, string>[]) {
      const r = await put('dress-2', dress, headers);
      assert.equal(r.status, 401);
      assert.equal(r.body.error?.code, 2023);
    }
  });

  it('rejects bad products with 422 3002 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ ...dress, price: 19.999 }, 'body.price'],
      [{ ...dress, currency: 'XYZ' }, 'body.currency'],
      [{ ...dress, currency: 'eur' }, 'body.currency'],
      [{ ...dress, stock: -1 }, 'body.stock'],
      [{ ...dress, name: '' }, 'body.name'],
      [{ ...dress, taxRate: 7.777 }, 'body.taxRate'],
      [{ ...dress, surprise: 1 }, 'body'],
    ];
    for (const [body, field] of cases) {
      const r = await put('dress-3', body);
      assert.equal(r.status, 422, JSON.stringify(body));
      assert.equal(r.body.error?.code, 3002);
      assert.equal((r.body.error?.details as { field: string }[])[0]?.field, field, JSON.stringify(body));
    }
    const unknownPartner = await put('dress-3', dress, { 'x-admin-key': ADMIN_KEY }, 'nobody');
    assert.equal(unknownPartner.status, 422);
  });

  it('imports JSON lines all or nothing', async () => {
    const good = [
      { productId: 'imp-1', ...dress },
      { productId: 'imp-2', ...dress, price: 10, stock: 0 },
    ];
    const ok = await importLines(good.map((p) => JSON.stringify(p)).join('\n') + '\n\n');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.data.imported, 2);
    const bad = await importLines([JSON.stringify({ productId: 'imp-3', ...dress }), '{not json', JSON.stringify({ ...dress })].join('\n'));
    assert.equal(bad.status, 422);
    assert.deepEqual(
      (bad.body.error?.details as { field: string }[]).map((d) => d.field),
      ['line 2', 'line 3'],
    );
    const products = await t.server.store.getProducts('acme', ['imp-1', 'imp-2', 'imp-3']);
    assert.deepEqual([...products.keys()].sort(), ['imp-1', 'imp-2'], 'nothing of the bad import was written');
  });
});
