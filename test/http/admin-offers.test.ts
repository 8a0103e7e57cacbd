/** Offers admin API (shop-api.md §4) through the real server: auth, validation, versions, import all or nothing. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_KEY, startTestServer, type EnvelopeBody, type TestServer } from './harness.js';
import { adminRequest, jsonLines } from './admin-request.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

type OfferData = Record<string, unknown> & { id: string; version: string; price: number };
type Detail = { field: string; message: string };

const monthly = {
  version: 'v1',
  name: 'Basic monthly',
  path: '/offers/basic-monthly',
  type: 'offer',
  price: 9.99,
  currency: 'EUR',
  taxRate: 19,
  term: { length: 1, unit: 'month' },
  products: [{ productCode: 'basic', path: '/products/basic' }],
  upgrades: ['premium-monthly'],
  downgrades: [],
  crossSells: ['sports'],
};

const call = <T>(method: 'GET' | 'PUT' | 'POST', url: string, body?: unknown, headers?: Record<string, string>) => adminRequest<T>(t, method, url, body, headers);
const put = (id: string, body: unknown, partner = 'acme') => call<{ offer: OfferData; warnings: Detail[] }>('PUT', `/admin/offers/${id}?partner=${partner}`, body);
const get = (id: string, query = '', partner = 'acme') => call<OfferData>('GET', `/admin/offers/${id}?partner=${partner}${query}`);
const importLines = (lines: unknown[], partner = 'acme') =>
  call<{ imported: number; warnings: { offer: { id: string }; field: string }[] }>(
    'POST',
    `/admin/offers:import?partner=${partner}`,
    jsonLines(lines),
  );
const details = (body: EnvelopeBody) => body.error?.details as Detail[];

describe('offers admin API', () => {
  it('needs the admin key on every route', async () => {
    for (const headers of [{}, { 'x-admin-key': 'wrong-admin-key' }] as Record<string, string>[]) {
      for (const [method, url, body] of [
        ['PUT', '/admin/offers/o1?partner=acme', monthly],
        ['GET', '/admin/offers/o1?partner=acme', undefined],
        ['POST', '/admin/offers:import?partner=acme', JSON.stringify({ id: 'o1', ...monthly })],
      ] as const) {
        const r = await call(method, url, body, headers);
        assert.equal(r.status, 401, `${method} ${url}`);
        assert.equal(r.body.error?.code, 2023);
      }
    }
  });

  it('loads a version, reads back the newest or the one asked for; versions stay addressable', async () => {
    const first = await put('basic-monthly', monthly);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.data.offer, { id: 'basic-monthly', ...monthly });
    // the links name offers not loaded: kept, and reported
    assert.deepEqual(first.body.data.warnings.map((w) => w.field), ['upgrades.0', 'crossSells.0']);
    assert.equal((await get('basic-monthly')).body.data.version, 'v1');

    const second = await put('basic-monthly', { ...monthly, id: 'basic-monthly', version: 'v2', price: 10.99 });
    assert.equal(second.status, 200);
    const newest = await get('basic-monthly');
    assert.deepEqual([newest.body.data.version, newest.body.data.price], ['v2', 10.99]);
    const old = await get('basic-monthly', '&version=v1');
    assert.deepEqual([old.status, old.body.data.version, old.body.data.price], [200, 'v1', 9.99]);
  });

  it('a version loaded again: the same content is a no-op, other content 409 and the stored one stays', async () => {
    assert.equal((await put('same-offer', monthly)).status, 200);
    assert.equal((await put('same-offer', monthly)).status, 200);
    const conflict = await put('same-offer', { ...monthly, price: 1 });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error?.code, 409);
    assert.match(conflict.body.error!.message, /same-offer version v1/);
    assert.equal((await get('same-offer')).body.data.price, 9.99);
  });

  it('404 for an offer or a version not loaded, and across partners', async () => {
    await put('acme-only', monthly);
    for (const [id, query, partner] of [
      ['nobody', '', 'acme'],
      ['acme-only', '&version=v9', 'acme'],
      ['acme-only', '', 'open'],
    ] as const) {
      const r = await get(id, query, partner);
      assert.equal(r.status, 404, `${id} ${query} ${partner}`);
      assert.equal(r.body.error?.code, 404);
      assert.equal(r.body.error?.details, 'OFFER_NOT_FOUND');
    }
  });

  it('refuses bad offers with 422 3002 naming the field', async () => {
    const cases: [unknown, string, string?][] = [
      [{ ...monthly, price: 9.999 }, 'body.price'],
      [{ ...monthly, currency: 'XYZ' }, 'body.currency'],
      [{ ...monthly, currency: 'eur' }, 'body.currency'],
      [{ ...monthly, version: 'v 1' }, 'body.version'],
      [{ ...monthly, type: 'bundle' }, 'body.type'],
      [{ ...monthly, term: { length: 0, unit: 'month' } }, 'body.term'],
      [{ ...monthly, term: { length: 1, unit: 'week' } }, 'body.term'],
      [{ ...monthly, taxRate: 19.555 }, 'body.taxRate'],
      [{ ...monthly, upgrades: ['x', 'x'] }, 'body.upgrades.1'],
      [{ ...monthly, downgrades: ['bad-offer'] }, 'body.downgrades.0'],
      [{ ...monthly, id: 'other' }, 'body.id'],
      [{ ...monthly, surprise: 1 }, 'body'],
      [{ ...monthly, name: 'a\u0001b' }, 'body.name'],
    ];
    for (const [body, field] of cases) {
      const r = await put('bad-offer', body);
      assert.equal(r.status, 422, JSON.stringify(body));
      assert.equal(r.body.error?.code, 3002);
      assert.ok(details(r.body)[0]!.field.startsWith(field), `${JSON.stringify(body)}: ${details(r.body)[0]!.field}`);
    }
    assert.equal((await get('bad-offer')).status, 404, 'nothing was loaded');
    const unknownPartner = await put('bad-offer', monthly, 'nobody');
    assert.equal(unknownPartner.status, 422);
    assert.equal(details(unknownPartner.body)[0]!.field, 'querystring.partner');
  });

  it('imports JSON lines: counts, links within the file are no warnings', async () => {
    const r = await importLines([
      { id: 'imp-basic', ...monthly, upgrades: ['imp-premium'], crossSells: [] },
      '',
      { id: 'imp-premium', ...monthly, name: 'Premium', price: 17.99, upgrades: [], downgrades: ['imp-basic'], crossSells: ['imp-missing'] },
    ]);
    assert.equal(r.status, 200);
    assert.equal(r.body.data.imported, 2);
    assert.deepEqual(r.body.data.warnings.map((w) => [w.offer.id, w.field]), [['imp-premium', 'crossSells.0']]);
    assert.equal((await get('imp-premium')).body.data.price, 17.99);
  });

  it('imports all or nothing: bad lines are named by number, a conflict by its line, and nothing is written', async () => {
    const bad = await importLines([{ id: 'aon-1', ...monthly }, { id: 'aon-2', ...monthly, price: 'cheap' }, '{not json', { id: 'aon-3', ...monthly }]);
    assert.equal(bad.status, 422);
    assert.deepEqual(details(bad.body).map((d) => d.field), ['line 2', 'line 3']);
    assert.match(details(bad.body)[0]!.message, /^\/price /);
    assert.equal((await get('aon-1')).status, 404);

    await put('aon-held', monthly);
    const conflict = await importLines([{ id: 'aon-4', ...monthly }, { id: 'aon-held', ...monthly, price: 99 }]);
    assert.equal(conflict.status, 409);
    assert.match(conflict.body.error!.message, /aon-held version v1 \(line 2\)/);
    assert.equal((await get('aon-4')).status, 404);

    const twice = await importLines([{ id: 'aon-5', ...monthly }, { id: 'aon-5', ...monthly, price: 5 }]);
    assert.equal(twice.status, 422);
    assert.deepEqual(details(twice.body).map((d) => d.field), ['line 2']);
    assert.equal((await get('aon-5')).status, 404);

    const empty = await importLines([]);
    assert.equal(empty.status, 422);
    const json = await call('POST', '/admin/offers:import?partner=acme', { id: 'x' });
    assert.equal(json.status, 422, 'an import is JSON lines, not a JSON body');
    assert.match(details(json.body)[0]!.message, /JSON lines is required/);
  });
});
