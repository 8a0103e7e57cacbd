/** Subscriptions admin API (shop-api.md §4) through the real server, and the demo shop data loaded at start. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEV_PARTNER } from '../../src/config.js';
import { ADMIN_KEY, startTestServer, type EnvelopeBody, type TestServer } from './harness.js';
import { adminRequest, jsonLines } from './admin-request.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
  const offers = [
    { id: 'plan', version: 'v1', name: 'Plan', path: '/plan', type: 'offer', price: 10, currency: 'EUR', term: { length: 1, unit: 'month' }, crossSells: ['extra'] },
    { id: 'plan', version: 'v2', name: 'Plan', path: '/plan', type: 'offer', price: 12, currency: 'EUR', term: { length: 1, unit: 'month' }, crossSells: ['extra'] },
    { id: 'small', version: 'v1', name: 'Small', path: '/small', type: 'offer', price: 5, currency: 'EUR', term: { length: 1, unit: 'month' } },
    { id: 'extra', version: 'v1', name: 'Extra', path: '/extra', type: 'add_on', price: 2, currency: 'EUR', term: { length: 1, unit: 'month' } },
    { id: 'mug', version: 'v1', name: 'Mug', path: '/mug', type: 'offer', price: 9, currency: 'EUR', term: null },
  ];
  const res = await adminRequest(t, 'POST', '/admin/offers:import?partner=acme', jsonLines(offers));
  assert.equal(res.status, 200, JSON.stringify(res.body));
});
after(() => t.close());

type SubscriptionData = Record<string, unknown> & { id: string; name: string; pendingChange: { effective: string } | null; termStart: string; termEnd: string };
type Detail = { field: string; message: string };

const sub = {
  name: 'SUB-1',
  customer: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' },
  offer: { id: 'plan', version: 'v1' },
  addOns: [{ id: 'extra', version: 'v1' }],
  termStart: '2026-11-01T00:00:00.000Z',
  termEnd: '2026-12-01T00:00:00.000Z',
  pendingChange: null,
};

const call = <T>(method: 'GET' | 'PUT' | 'POST', url: string, body?: unknown, headers?: Record<string, string>) => adminRequest<T>(t, method, url, body, headers);
const put = (id: string, body: unknown, partner = 'acme') => call<SubscriptionData>('PUT', `/admin/subscriptions/${id}?partner=${partner}`, body);
const get = (id: string, partner = 'acme') => call<SubscriptionData>('GET', `/admin/subscriptions/${id}?partner=${partner}`);
const importLines = (lines: unknown[]) =>
  call<{ imported: number }>('POST', '/admin/subscriptions:import?partner=acme', jsonLines(lines));
const details = (body: EnvelopeBody) => body.error?.details as Detail[];

describe('subscriptions admin API', () => {
  it('needs the admin key', async () => {
    for (const [method, url, body] of [
      ['PUT', '/admin/subscriptions/s?partner=acme', sub],
      ['GET', '/admin/subscriptions/s?partner=acme', undefined],
      ['POST', '/admin/subscriptions:import?partner=acme', JSON.stringify({ id: 's', ...sub })],
    ] as const) {
      const r = await call(method, url, body, {});
      assert.equal(r.status, 401, `${method} ${url}`);
      assert.equal(r.body.error?.code, 2023);
    }
  });

  it('creates, reads back and replaces a subscription; 404 when absent or of another partner', async () => {
    const created = await put('sub-1', sub);
    assert.equal(created.status, 200);
    assert.deepEqual(created.body.data, { id: 'sub-1', ...sub });
    assert.deepEqual((await get('sub-1')).body.data, { id: 'sub-1', ...sub });
    const pending = { offer: { id: 'small', version: 'v1' }, effective: '2026-12-01T00:00:00.000Z' };
    const replaced = await put('sub-1', { ...sub, id: 'sub-1', offer: { id: 'plan', version: 'v2' }, pendingChange: pending });
    assert.equal(replaced.status, 200);
    const read = await get('sub-1');
    assert.deepEqual(read.body.data.offer, { id: 'plan', version: 'v2' });
    assert.deepEqual(read.body.data.pendingChange, pending);
    for (const [id, partner] of [
      ['nobody', 'acme'],
      ['sub-1', 'open'],
    ]) {
      const r = await get(id!, partner);
      assert.equal(r.status, 404);
      assert.equal(r.body.error?.details, 'SUBSCRIPTION_NOT_FOUND');
    }
  });

  it('refuses bad subscriptions with 422 3002 naming the field, and offers that are not there or not of the kind', async () => {
    const cases: [unknown, string][] = [
      [{ ...sub, termEnd: sub.termStart }, 'body.termEnd'],
      [{ ...sub, termStart: '2026-02-30T00:00:00Z' }, 'body.termStart'],
      [{ ...sub, termStart: 'yesterday' }, 'body.termStart'],
      [{ ...sub, customer: { ...sub.customer, email: 'ada' } }, 'body.customer.email'],
      [{ ...sub, id: 'other' }, 'body.id'],
      [{ ...sub, offer: { id: 'plan', version: 'v9' } }, 'body.offer'],
      [{ ...sub, offer: { id: 'mug', version: 'v1' } }, 'body.offer'],
      [{ ...sub, addOns: [{ id: 'small', version: 'v1' }] }, 'body.addOns.0'],
      [{ ...sub, pendingChange: { offer: { id: 'ghost', version: 'v1' }, effective: sub.termEnd } }, 'body.pendingChange.offer'],
      [{ ...sub, extra: 1 }, 'body'],
    ];
    for (const [body, field] of cases) {
      const r = await put('sub-bad', body);
      assert.equal(r.status, 422, JSON.stringify(body));
      assert.equal(r.body.error?.code, 3002);
      assert.equal(details(r.body)[0]!.field, field, JSON.stringify(body));
    }
    assert.equal((await get('sub-bad')).status, 404);
  });

  it('409 for a name another subscription has', async () => {
    assert.equal((await put('sub-a', { ...sub, name: 'TAKEN' })).status, 200);
    const r = await put('sub-b', { ...sub, name: 'TAKEN' });
    assert.equal(r.status, 409);
    assert.equal(r.body.error?.details, 'SUBSCRIPTION_NAME_CONFLICT');
    assert.equal((await get('sub-b')).status, 404);
    // the same subscription keeps its own name
    assert.equal((await put('sub-a', { ...sub, name: 'TAKEN', addOns: [] })).status, 200);
  });

  it('imports all or nothing, naming lines: bad fields, missing offers, the same id twice', async () => {
    const ok = await importLines([{ id: 'imp-1', ...sub, name: 'IMP-1' }, { id: 'imp-2', ...sub, name: 'IMP-2', addOns: [] }]);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.data.imported, 2);
    assert.equal((await get('imp-2')).body.data.name, 'IMP-2');

    const bad = await importLines([
      { id: 'imp-3', ...sub, name: 'IMP-3' },
      { id: 'imp-4', ...sub, name: 'IMP-4', offer: { id: 'plan', version: 'v7' } },
      { id: 'imp-5', ...sub, name: 'IMP-5', termEnd: 'soon' },
    ]);
    assert.equal(bad.status, 422);
    // the field check names line 3 at once; the offers are checked only once every line reads
    assert.deepEqual(details(bad.body).map((d) => d.field), ['line 3']);
    assert.match(details(bad.body)[0]!.message, /^\/termEnd /);
    const missing = await importLines([{ id: 'imp-3', ...sub, name: 'IMP-3' }, { id: 'imp-4', ...sub, name: 'IMP-4', offer: { id: 'plan', version: 'v7' } }]);
    assert.equal(missing.status, 422);
    assert.deepEqual(details(missing.body).map((d) => [d.field, d.message]), [['line 2', '/offer offer plan version v7 does not exist']]);
    const twice = await importLines([{ id: 'imp-3', ...sub, name: 'IMP-3' }, { id: 'imp-3', ...sub, name: 'IMP-3b' }]);
    assert.equal(twice.status, 422);
    assert.deepEqual(details(twice.body).map((d) => d.field), ['line 2']);
    const conflict = await importLines([{ id: 'imp-3', ...sub, name: 'IMP-3' }, { id: 'imp-6', ...sub, name: 'IMP-1' }]);
    assert.equal(conflict.status, 409);
    assert.match(conflict.body.error!.message, /"IMP-1" \(line 2\)/);
    assert.equal((await get('imp-3')).status, 404, 'nothing of the refused imports was written');
  });
});

describe('demo shop data', () => {
  const demoOffer = (id: string, server = t) =>
    server.server.app.inject({ method: 'GET', url: `/admin/offers/${id}?partner=${DEV_PARTNER.id}`, headers: { 'x-admin-key': ADMIN_KEY } });
  const demoSubscription = async (id: string, server = t) =>
    (
      (await server.server.app.inject({ method: 'GET', url: `/admin/subscriptions/${id}?partner=${DEV_PARTNER.id}`, headers: { 'x-admin-key': ADMIN_KEY } })).json() as EnvelopeBody<SubscriptionData>
    ).data;

  it('has the subscription offers, their add-ons, and a one-off offer per priced demo product', async () => {
    const basic = (await demoOffer('streaming-basic-monthly')).json() as EnvelopeBody<{ upgrades: string[]; crossSells: string[]; currency: string }>;
    assert.equal(basic.data.currency, 'EUR');
    assert.ok(basic.data.upgrades.includes('streaming-premium-monthly'));
    const premium = (await demoOffer('streaming-premium-monthly')).json() as EnvelopeBody<{ downgrades: string[]; crossSells: string[] }>;
    assert.ok(premium.data.downgrades.includes('streaming-basic-monthly'));
    for (const id of premium.data.crossSells) assert.equal(((await demoOffer(id)).json() as EnvelopeBody<{ type: string }>).data.type, 'add_on');
    const products = readFileSync(new URL('../../demo/catalogue.jsonl', import.meta.url), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { productId: string; price: number | null });
    for (const p of products.filter((p) => p.price !== null)) {
      const offer = ((await demoOffer(`offer-${p.productId}`)).json() as EnvelopeBody<{ term: unknown; price: number; products: { productCode: string }[] }>).data;
      assert.equal(offer.products[0]!.productCode, p.productId);
      assert.equal(offer.price, p.price);
      assert.equal(offer.term, null);
    }
  });

  it('has subscriptions dated around the load: one mid-term, one with a change still ahead', async () => {
    const now = t.clock.now;
    const plain = await demoSubscription('sub-demo-basic');
    assert.ok(Date.parse(plain.termStart) < now && now < Date.parse(plain.termEnd), JSON.stringify(plain));
    assert.equal(plain.pendingChange, null);
    const pending = await demoSubscription('sub-demo-pending');
    assert.ok(Date.parse(pending.pendingChange!.effective) > now, JSON.stringify(pending));
  });

  it('loads again on a restart without error, keeping what changed since', async () => {
    const changed = await call('PUT', `/admin/subscriptions/sub-demo-basic?partner=${DEV_PARTNER.id}`, {
      ...(await demoSubscription('sub-demo-basic')),
      addOns: [],
    });
    assert.equal(changed.status, 200);
    const again = await startTestServer({}, { sameStoreAs: t });
    try {
      assert.deepEqual((await demoSubscription('sub-demo-basic', again)).addOns, []);
      assert.equal((await demoOffer('streaming-premium-annual', again)).statusCode, 200);
    } finally {
      await again.close();
    }
  });
});
