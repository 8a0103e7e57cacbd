/**
 * GET /api/checkout/abandoned and the recovery link through the real server (shop-api.md §3.1, §3.8): keyset paging
 * over many baskets with equal creation times, stable while baskets are created between pages, signed cursors,
 * the item shape, recovery round trip (cookie, redirect), refusals as JSON or HTML.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './harness.js';
import {
  addOn,
  cookieOf,
  DEMO,
  expectMessage,
  initiate,
  item,
  loadOffers,
  PUBLIC_URL,
  SHOP_ENV,
  SHOPCO,
  SHOPCO_CLIENT,
  SHOPCO_URL,
  shopCall,
  shopToken,
  submit,
  update,
} from './shop-helpers.js';

const DAY = 24 * 60 * 60 * 1000;

interface AbandonedItem {
  id: string;
  created: string;
  customerDetails: Record<string, string | null>;
  orderItems: Array<{ name: string; path: string | null; products: Array<{ path: string | null; productCode: string }> }>;
  customFields: Record<string, unknown>;
  tracking: { offers: string[]; campaign: string | null; tag: string | null };
  identities: unknown[];
  entry: string | null;
  completed: false;
  recoveryLink: string;
}
interface Page {
  items: AbandonedItem[];
  queryMore?: string;
}

let t: TestServer;
let token: string;
let shopcoToken: string;
before(async () => {
  t = await startTestServer(SHOP_ENV);
  await loadOffers(t, DEMO);
  await loadOffers(t, SHOPCO);
  token = await shopToken(t);
  shopcoToken = await shopToken(t, SHOPCO_CLIENT);
});
after(() => t?.close());

const iso = (ms: number) => new Date(ms).toISOString();

async function list(query: Record<string, string>, tok = token) {
  return shopCall<Page>(t, 'GET', `/api/checkout/abandoned?${new URLSearchParams(query).toString()}`, { token: tok });
}

/** Every page of a listing; `between` runs after each page (concurrent inserts). */
async function pageAll(query: Record<string, string>, between?: () => Promise<void>, tok = token): Promise<AbandonedItem[]> {
  const seen: AbandonedItem[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < 1000; n++) {
    const res = await list({ ...query, ...(cursor ? { queryMore: cursor } : {}) }, tok);
    assert.equal(res.status, 200, res.raw);
    seen.push(...res.body.items);
    cursor = res.body.queryMore;
    if (cursor === undefined) return seen;
    await between?.();
  }
  throw new Error('paging did not end');
}

async function newBaskets(n: number, tok = token): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await initiate(t, tok, { orderItems: [item('basic-monthly')] });
    assert.equal(res.status, 200, res.raw);
    ids.push(res.body.id);
  }
  return ids;
}

describe('GET /api/checkout/abandoned', () => {
  it('the item shape: customer, offers with paths and products, tracking, custom fields, a recovery link', async () => {
    t.clock.now += 1000; // after the other tests' baskets
    const since = t.clock.now - 1;
    const res = await initiate(t, token, {
      orderItems: [item('premium-monthly'), addOn('sports', 'premium-monthly')],
      customerDetails: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', companyName: 'Engines Ltd' },
      customFields: { newsletter: true, segment: 'b' },
      tracking: { offers: ['premium-monthly'], campaign: 'spring', tag: 'tv' },
      source: 'campaign-mail',
    });
    const page = await list({ createdAfter: iso(since) });
    assert.equal(page.status, 200, page.raw);
    assert.equal(page.body.queryMore, undefined);
    assert.deepEqual(page.body.items.map((i) => i.id), [res.body.id]);
    const [it0] = page.body.items;
    assert.deepEqual({ ...it0!, recoveryLink: '' }, {
      id: res.body.id,
      created: iso(t.clock.now),
      customerDetails: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', companyName: 'Engines Ltd' },
      orderItems: [
        { name: 'Offer premium-monthly', path: '/offers/premium-monthly', products: [{ path: '/products/premium-monthly', productCode: 'premium-monthly' }] },
        { name: 'Offer sports', path: '/offers/sports', products: [{ path: '/products/sports', productCode: 'sports' }] },
      ],
      customFields: { newsletter: true, segment: 'b' },
      tracking: { offers: ['premium-monthly'], campaign: 'spring', tag: 'tv' },
      identities: [],
      entry: 'campaign-mail',
      completed: false,
      recoveryLink: '',
    });
    assert.ok(it0!.recoveryLink.startsWith(`${PUBLIC_URL}/api/checkout/recover?basket=${res.body.id}&recover=`), it0!.recoveryLink);
  });

  it('pages through many baskets with equal creation times in (created, id) order, no item twice, none left out', async () => {
    t.clock.now += 1000;
    const since = t.clock.now - 1;
    const ids = await newBaskets(23); // all created at the same instant
    t.clock.now += 1;
    ids.push(...(await newBaskets(4)));
    const seen = await pageAll({ createdAfter: iso(since), limit: '5' });
    assert.deepEqual(seen.map((i) => i.id), [...ids.slice(0, 23).sort(), ...ids.slice(23).sort()]);
  });

  it('stable under concurrent inserts: every basket of the start once, newer ones after them, no duplicates', async () => {
    t.clock.now += 1000;
    const since = t.clock.now - 1;
    const initial = await newBaskets(12);
    const inserted: string[] = [];
    const seen = await pageAll({ createdAfter: iso(since), limit: '4' }, async () => {
      // created while paging: some at the same instant as the first ones (ids anywhere in the order), some later
      inserted.push(...(await newBaskets(2)));
      t.clock.now += 1;
      inserted.push(...(await newBaskets(1)));
    });
    const seenIds = seen.map((i) => i.id);
    assert.equal(new Set(seenIds).size, seenIds.length, 'no basket twice');
    for (const id of initial) assert.ok(seenIds.includes(id), `${id} of the start was listed`);
    for (const id of seenIds) assert.ok(initial.includes(id) || inserted.includes(id));
    // keyset order held across pages
    const keys = seen.map((i) => `${i.created}|${i.id}`);
    assert.deepEqual(keys, [...keys].sort());
  });

  it('leaves out completed, expired, older and other partners\' baskets', async () => {
    t.clock.now += 1000;
    const since = t.clock.now - 1;
    const [done, open] = await newBaskets(2);
    assert.equal((await submit(t, token, done!)).status, 200);
    const [foreign] = await newBaskets(1, shopcoToken);
    assert.deepEqual((await pageAll({ createdAfter: iso(since) })).map((i) => i.id), [open]);
    assert.deepEqual((await pageAll({ createdAfter: iso(since) }, undefined, shopcoToken)).map((i) => i.id), [foreign]);
    // strictly after createdAfter
    assert.deepEqual((await pageAll({ createdAfter: iso(t.clock.now) })).map((i) => i.id), []);
    t.clock.now += 14 * DAY;
    try {
      assert.deepEqual((await pageAll({ createdAfter: iso(since) }, undefined, await shopToken(t))).map((i) => i.id), []);
    } finally {
      t.clock.now -= 14 * DAY;
    }
  });

  it('bad query: 400 {"message"}; tampered, foreign or garbage cursors: 400', async () => {
    const since = iso(t.clock.now - 10 * DAY);
    for (const query of [{}, { createdAfter: 'yesterday' }, { createdAfter: '2026-13-45T99:00:00Z' }, { createdAfter: since, limit: '0' }, { createdAfter: since, limit: '101' }, { createdAfter: since, limit: 'x' }, { createdAfter: since, other: '1' }]) {
      expectMessage(await list(query as Record<string, string>), 400);
    }
    await newBaskets(3);
    const first = await list({ createdAfter: since, limit: '1' });
    const cursor = first.body.queryMore!;
    assert.ok(cursor);
    const [payload, mac] = cursor.split('.') as [string, string];
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { v: number; created: number; id: string };
    const forged = Buffer.from(JSON.stringify({ ...decoded, created: decoded.created - 1 })).toString('base64url');
    for (const bad of [`${forged}.${mac}`, `${payload}.${mac.slice(1)}`, 'DnF1ZXJ5VGhlbkZldGNoBQAAAAAAGHOK', Buffer.from(JSON.stringify(decoded)).toString('base64'), `${payload}.`]) {
      expectMessage(await list({ createdAfter: since, queryMore: bad }), 400, /queryMore/);
    }
    // another partner's client cannot use it
    expectMessage(await list({ createdAfter: since, queryMore: cursor }, shopcoToken), 400, /queryMore/);
    assert.equal((await list({ createdAfter: since, queryMore: cursor })).status, 200);
  });
});

describe('GET /api/checkout/recover', () => {
  async function linkOf(id: string, tok = token): Promise<string> {
    const all = await pageAll({ createdAfter: iso(0) }, undefined, tok);
    const found = all.find((i) => i.id === id);
    assert.ok(found, `${id} is listed`);
    return found.recoveryLink.slice(PUBLIC_URL.length);
  }

  it('restores the landing state and redirects to the partner\'s shop; the cookie then works on update', async () => {
    const [id] = await newBaskets(1, shopcoToken);
    const res = await shopCall(t, 'GET', await linkOf(id!, shopcoToken));
    assert.equal(res.status, 302, res.raw);
    assert.equal(res.headers.location, SHOPCO_URL);
    const cookie = cookieOf(res);
    assert.equal(cookie, `limio_state=${encodeURIComponent(JSON.stringify({ basketId: id }))}`);
    assert.match(String(res.headers['set-cookie']), /; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=None$/);
    const changed = await update(t, shopcoToken, cookie, [{ orderItemActionType: 'add', offer: { id: 'premium-monthly', version: 'v1' } }]);
    assert.equal(changed.status, 200, changed.raw);
    assert.equal(changed.body.id, id);
  });

  it('bad, tampered, foreign-basket, expired links and completed baskets: 400, a page for browsers', async () => {
    const [id, other] = await newBaskets(2);
    const link = await linkOf(id!);
    const recover = new URL(`${PUBLIC_URL}${link}`).searchParams.get('recover')!;
    const bad = [
      '/api/checkout/recover',
      `/api/checkout/recover?basket=${id}`,
      `/api/checkout/recover?basket=${id}&recover=x`,
      `/api/checkout/recover?basket=${other}&recover=${encodeURIComponent(recover)}`,
      `/api/checkout/recover?basket=nope&recover=${encodeURIComponent(recover)}`,
      `/api/checkout/recover?basket=${id}&recover=${encodeURIComponent(recover.slice(0, -2))}AA`,
    ];
    for (const url of bad) {
      expectMessage(await shopCall(t, 'GET', url), 400);
      const page = await shopCall(t, 'GET', url, { headers: { accept: 'text/html,application/xhtml+xml' } });
      assert.equal(page.status, 400);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(page.raw, /This basket link cannot be used/);
      assert.equal(page.headers['set-cookie'], undefined);
    }
    t.clock.now += 14 * DAY;
    try {
      expectMessage(await shopCall(t, 'GET', link), 400, /expired/);
    } finally {
      t.clock.now -= 14 * DAY;
    }
    assert.equal((await submit(t, token, id!)).status, 200);
    expectMessage(await shopCall(t, 'GET', link), 400, 'The basket was already ordered');
  });
});
