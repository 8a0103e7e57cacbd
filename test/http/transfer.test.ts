/**
 * transferBasket (spec §3.8), redemption (§3.7 with jayToken), the QR image and the landing page over HTTP
 * (the landing page in a real browser: test/browser/landing.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import jsqr from 'jsqr';
import pngjs from 'pngjs';
import { hashTransferToken } from '../../src/domain/transfer-token.js';
import type { BasketView } from '../../src/http/routes/baskets.js';
import { ACME_KEY, DEMO_KEY, OPEN_KEY, TEST_PARTNERS, TEST_STORE, startTestServer, userHeaders, type EnvelopeBody, type GuestData, type Res, type TestServer } from './harness.js';

interface TransferData {
  expires: string;
  jaySource: string;
  jayToken: string;
  url: string;
  qrCodeImageUrl: string | null;
  qrCodeImageBase64: string | null;
}

// jsqr is CommonJS whose typings declare an ES default export: take the function whichever way it arrives.
const jsQR = ((jsqr as unknown as { default?: typeof jsqr.default }).default ?? jsqr) as typeof jsqr.default;

const PUBLIC_URL = 'https://basket.example.net';
/** acme with an allow-list and no landing URL; the other partners as the harness has them. */
const PARTNERS = TEST_PARTNERS.map((p) => (p.id === 'acme' ? { ...p, transferHosts: ['shop.acme.example', '*.acme-cdn.example'], shopUrl: 'https://shop.acme.example/' } : p));

let t: TestServer;
before(async () => {
  t = await startTestServer({ PARTNERS_JSON: JSON.stringify(PARTNERS), PUBLIC_URL });
});
after(() => t.close());

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

async function tokenFor(apiKey: string, userId: string): Promise<string> {
  if (apiKey === ACME_KEY) return t.acmeToken(userId);
  if (apiKey === OPEN_KEY) return t.openToken(userId);
  return t.demoToken(userId);
}

async function transfer(userId: string, opts: { body?: unknown; query?: string; apiKey?: string; token?: string; prefix?: string } = {}): Promise<Res<TransferData>> {
  const apiKey = opts.apiKey ?? DEMO_KEY;
  const token = opts.token ?? (await tokenFor(apiKey, userId));
  const res = await t.server.app.inject({
    method: 'POST',
    url: `${opts.prefix ?? '/v2'}/baskets/users/${userId}/transfer${opts.query ?? ''}`,
    headers: userHeaders(apiKey, token, opts.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(opts.body === undefined ? {} : { payload: JSON.stringify(opts.body) }),
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<TransferData>, headers: res.headers };
}

async function redeem(jayToken: string, opts: { apiKey?: string; method?: 'GET' | 'POST'; prefix?: string } = {}): Promise<Res<GuestData>> {
  const res = await t.server.app.inject({
    method: opts.method ?? 'POST',
    url: `${opts.prefix ?? '/v2'}/baskets/guests?jayToken=${encodeURIComponent(jayToken)}`,
    headers: { 'x-api-key': opts.apiKey ?? DEMO_KEY },
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<GuestData>, headers: res.headers };
}

async function assign(userId: string, productId: string, count: number, token?: string): Promise<BasketView> {
  const res = await t.server.app.inject({
    method: 'POST',
    url: `/v2/baskets/users/${userId}/products/${productId}`,
    headers: userHeaders(DEMO_KEY, token ?? (await t.demoToken(userId)), { 'content-type': 'application/json' }),
    payload: JSON.stringify({ count }),
  });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as EnvelopeBody<BasketView>).data;
}

function expectError<T>(r: Res<T>, status: number, code: number, what: string): void {
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  assert.deepEqual(r.body, { data: null, nextToken: null, error: { ...r.body.error!, code } }, what);
  assert.equal(typeof r.body.error?.message, 'string', what);
}

function decodeQr(png: Buffer): string {
  const image = pngjs.PNG.sync.read(png);
  const found = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  assert.ok(found, 'the PNG holds a readable QR code');
  return found.data;
}

const cartOf = (b: BasketView) => b.cart.map((l) => `${l.productId}:${l.count}`);

describe('transferBasket', () => {
  it('extends the partner landing URL by default; 60 s; no QR without qr=true; /v2 and bare', async () => {
    for (const [prefix, query] of [['/v2', ''], ['', '?qr=false']] as const) {
      const r = await transfer('tv-user-1', { prefix, query });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const d = r.body.data;
      assert.deepEqual(Object.keys(d), ['expires', 'jaySource', 'jayToken', 'url', 'qrCodeImageUrl', 'qrCodeImageBase64']);
      assert.equal(d.jaySource, 'demo-tv');
      assert.match(d.jayToken, /^[A-Za-z0-9_-]{43}$/, '256 random bits');
      // the development partner's landing page is this service's: it follows PUBLIC_URL
      assert.equal(d.url, `${PUBLIC_URL}/landing?jaySource=demo-tv&jayToken=${d.jayToken}`);
      assert.equal(d.expires, iso(t.clock.now + 60_000));
      assert.equal(d.qrCodeImageUrl, null);
      assert.equal(d.qrCodeImageBase64, null);
    }
  });

  it('extends a given URL keeping its query and fragment, replacing an old jayToken; jaySource defaults to the partner id', async () => {
    const r = await transfer('u-open', { apiKey: OPEN_KEY, body: { url: 'https://shop.open.example/cart?lang=de&jayToken=stale#checkout' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const d = r.body.data;
    assert.equal(d.jaySource, 'open');
    assert.equal(d.url, `https://shop.open.example/cart?lang=de&jaySource=open&jayToken=${d.jayToken}#checkout`);
  });

  it('with qr=true: a PNG of the URL, and an image URL on this service serving the same PNG until the token is used', async () => {
    const r = await transfer('tv-user-qr', { query: '?qr=true', body: { url: 'https://shop.example.com/b?x=1&y=ä#f' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const d = r.body.data;
    const png = Buffer.from(d.qrCodeImageBase64!, 'base64');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.equal(decodeQr(png), d.url);
    assert.equal(d.qrCodeImageUrl, `${PUBLIC_URL}/baskets/transfers/${d.jayToken}/qr.png`);

    const path = new URL(d.qrCodeImageUrl!).pathname;
    for (const p of [path, `/v2${path}`]) {
      const img = await t.server.app.inject({ method: 'GET', url: p });
      assert.equal(img.statusCode, 200);
      assert.equal(img.headers['content-type'], 'image/png');
      assert.equal(img.headers['cache-control'], 'no-store');
      assert.equal(decodeQr(img.rawPayload), d.url);
    }

    assert.equal((await redeem(d.jayToken)).status, 200);
    const gone = await t.server.app.inject({ method: 'GET', url: path });
    assert.equal(gone.statusCode, 404);
    assert.deepEqual(gone.json(), { data: null, nextToken: null, error: { code: 404, message: 'Transfer token unknown, used or expired', details: 'NOT_FOUND' } });
    const unknown = await t.server.app.inject({ method: 'GET', url: '/baskets/transfers/not-a-token/qr.png' });
    assert.equal(unknown.statusCode, 404);
  });

  it('the QR image is gone once the token expires (controllable clock)', async () => {
    const d = (await transfer('tv-user-qr2', { query: '?qr=true' })).body.data;
    const path = new URL(d.qrCodeImageUrl!).pathname;
    const start = t.clock.now;
    try {
      t.clock.now = start + 59_999;
      assert.equal((await t.server.app.inject({ method: 'GET', url: path })).statusCode, 200);
      t.clock.now = start + 60_000;
      assert.equal((await t.server.app.inject({ method: 'GET', url: path })).statusCode, 404);
    } finally {
      t.clock.now = start;
    }
  });

  it('a long URL still makes a readable QR code', async () => {
    const url = `https://shop.example.com/p?${'q=' + 'x'.repeat(1800)}`;
    const d = (await transfer('tv-long', { query: '?qr=true', body: { url } })).body.data;
    assert.ok(d.url.length > 1850);
    assert.equal(decodeQr(Buffer.from(d.qrCodeImageBase64!, 'base64')), d.url);
    expectError(await transfer('tv-long', { body: { url: `${url}${'x'.repeat(300)}` } }), 422, 2018, 'too long');
  });

  it('refuses qr values other than "true"/"false" and non-string URLs with 422 3002', async () => {
    for (const q of ['?qr=yes', '?qr=1', '?qr=TRUE', '?qr=']) expectError(await transfer('tv-user-1', { query: q }), 422, 3002, q);
    for (const body of [{ url: 42 }, { url: ['https://x.example/'] }, [], 'x']) expectError(await transfer('tv-user-1', { body }), 422, 3002, JSON.stringify(body));
  });

  it('enforces the partner allow-list and URL rules with 422 2018 (no open redirect)', async () => {
    const ok = async (url: string) => {
      const r = await transfer('acme-1', { apiKey: ACME_KEY, body: { url } });
      assert.equal(r.status, 200, `${url}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.data.jaySource, 'acme-tv');
      return r.body.data.url;
    };
    assert.match(await ok('https://shop.acme.example/landing'), /^https:\/\/shop\.acme\.example\/landing\?jaySource=acme-tv&jayToken=/);
    await ok('https://eu.acme-cdn.example/x');
    for (const url of [
      'https://evil.example/',
      'https://acme-cdn.example/',
      'https://shop.acme.example.evil.example/',
      'https://shop.acme.example@evil.example/',
      'https://user:pw@shop.acme.example/',
      'javascript:alert(1)//https://shop.acme.example/',
      'data:text/html,<script>alert(1)</script>',
      'ftp://shop.acme.example/',
      '//shop.acme.example/',
      '/landing',
      'https:\\\\evil.example\\shop.acme.example',
      'java\nscript:alert(1)',
      '',
    ]) {
      const r = await transfer('acme-1', { apiKey: ACME_KEY, body: { url } });
      expectError(r, 422, 2018, url);
      assert.equal(r.body.error?.details, 'TRANSFER_URL_INVALID');
    }
  });

  it('422 2018 when no URL is given and the partner has no landing URL; null means "not given"', async () => {
    expectError(await transfer('acme-2', { apiKey: ACME_KEY }), 422, 2018, 'no url, no landing url');
    expectError(await transfer('acme-2', { apiKey: ACME_KEY, body: { url: null } }), 422, 2018, 'null url');
    assert.equal((await transfer('tv-user-1', { body: { url: null } })).status, 200, 'null: the landing URL of demo');
  });

  it('needs the user token of that user', async () => {
    const noBearer = await t.server.app.inject({ method: 'POST', url: '/v2/baskets/users/u1/transfer', headers: { 'x-api-key': DEMO_KEY } });
    assert.equal(noBearer.statusCode, 401);
    assert.equal(noBearer.json().error.code, 2002);
    expectError(await transfer('u1', { token: await t.demoToken('u2') }), 403, 2019, 'other user');
  });

  it('stores only the SHA-256 of the token, never the token itself', async () => {
    const d = (await transfer('tv-hash', { body: { url: 'https://shop.example.com/' } })).body.data;
    const hash = hashTransferToken(d.jayToken);
    // the record's URL is the transfer URL without its jayToken (the QR image route restores it from the path)
    const stored = `https://shop.example.com/?jaySource=demo-tv`;
    assert.equal(d.url, `${stored}&jayToken=${d.jayToken}`);
    assert.deepEqual(await t.server.store.getTransfer(hash, t.clock.now), { partnerId: 'demo', userId: 'tv-hash', expires: t.clock.now + 60_000, url: stored });
    assert.equal(await t.server.store.getTransfer(d.jayToken, t.clock.now), null);
    // the bytes on disk (database and write-ahead log) hold the hash and never the token
    if (TEST_STORE !== 'sqlite') return; // the server-backed stores are checked through the interface above
    const files = ['basket.db', 'basket.db-wal'].map((f) => path.join(t.dataDir, f)).filter((f) => existsSync(f));
    const disk = Buffer.concat(files.map((f) => readFileSync(f)));
    assert.ok(disk.includes(Buffer.from(hash)), 'the hash is stored');
    assert.ok(!disk.includes(Buffer.from(d.jayToken)), 'the token is not');
  });
});

describe('redeeming a transfer token (createGuestBasket with jayToken)', () => {
  it('gives guest credentials for the transferred basket itself: same user id, kept in sync both ways', async () => {
    await assign('tv-sync', 'prod-123', 2);
    const d = (await transfer('tv-sync')).body.data;
    const r = await redeem(d.jayToken);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const g = r.body.data;
    assert.equal(g.userId, 'tv-sync');
    assert.deepEqual(cartOf(g.basket), ['prod-123:2']);
    assert.equal(g.expires, iso(t.clock.now + 30 * 86_400_000));
    const claims = decodeJwt(g.token);
    assert.deepEqual([claims.sub, claims.guest, claims.pid], ['tv-sync', true, 'demo']);

    // the web shop (guest token) changes the basket: the TV sees it, and the other way round
    await assign('tv-sync', 'prod-456', 1, g.token);
    const tv = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/users/tv-sync', headers: userHeaders(DEMO_KEY, await t.demoToken('tv-sync')) });
    assert.deepEqual(cartOf(tv.json().data), ['prod-123:2', 'prod-456:1']);
    await assign('tv-sync', 'prod-123', 0);
    const shop = await t.server.app.inject({ method: 'GET', url: '/baskets/users/tv-sync', headers: userHeaders(DEMO_KEY, g.token) });
    assert.deepEqual(cartOf(shop.json().data), ['prod-456:1']);
  });

  it('works with GET too, under /v2 and bare; a second redemption is 410 2017', async () => {
    for (const [method, prefix] of [['GET', '/v2'], ['POST', ''], ['GET', '']] as const) {
      const d = (await transfer('tv-once')).body.data;
      const first = await redeem(d.jayToken, { method, prefix });
      assert.equal(first.status, 200, `${method} ${prefix}`);
      for (const m of ['GET', 'POST'] as const) expectError(await redeem(d.jayToken, { method: m }), 410, 2017, `${method} ${prefix} then ${m}`);
    }
  });

  it('unknown, malformed or expired tokens: 410 2017 (controllable clock, no sleeping)', async () => {
    for (const tok of ['nope', 'x'.repeat(43), 'ü', ' ']) expectError(await redeem(tok), 410, 2017, tok);
    const a = (await transfer('tv-exp')).body.data;
    const b = (await transfer('tv-exp')).body.data;
    const start = t.clock.now;
    try {
      t.clock.now = start + 59_999;
      assert.equal((await redeem(a.jayToken)).status, 200, 'valid just before 60 s');
      t.clock.now = start + 60_000;
      expectError(await redeem(b.jayToken), 410, 2017, 'expired at 60 s');
    } finally {
      t.clock.now = start;
    }
  });

  it("another partner's API key gets 410 2017 and does not burn the token", async () => {
    const d = (await transfer('tv-partner')).body.data;
    expectError(await redeem(d.jayToken, { apiKey: OPEN_KEY }), 410, 2017, 'open redeeming a demo token');
    expectError(await redeem(d.jayToken, { apiKey: ACME_KEY, method: 'GET' }), 410, 2017, 'acme redeeming a demo token');
    assert.equal((await redeem(d.jayToken)).status, 200, 'still redeemable by its partner');
  });

  it('needs the API key: 401 2023; GET needs jayToken: 422 3002; an overlong token: 422 3002', async () => {
    const res = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/guests?jayToken=abc' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 2023);
    const missing = await t.server.app.inject({ method: 'GET', url: '/v2/baskets/guests', headers: { 'x-api-key': DEMO_KEY } });
    assert.equal(missing.statusCode, 422);
    assert.equal(missing.json().error.code, 3002);
    expectError(await redeem('x'.repeat(600)), 422, 3002, 'overlong');
  });

  it('exactly one of 20 concurrent redemptions wins; the others get 410 2017', async () => {
    await assign('tv-race', 'prod-789', 1);
    const d = (await transfer('tv-race')).body.data;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => redeem(d.jayToken, { method: i % 2 === 0 ? 'POST' : 'GET' })));
    const winners = results.filter((r) => r.status === 200);
    assert.equal(winners.length, 1);
    assert.equal(winners[0]!.body.data.userId, 'tv-race');
    for (const r of results.filter((x) => x.status !== 200)) expectError(r, 410, 2017, 'loser');
  });

  it('a guest can transfer its basket on, and the next holder gets the same basket', async () => {
    const created = await t.server.app.inject({
      method: 'POST',
      url: '/v2/baskets/guests',
      headers: { 'x-api-key': DEMO_KEY, 'content-type': 'application/json' },
      payload: JSON.stringify({ products: [{ productId: 'prod-456', count: 3 }] }),
    });
    const g = created.json().data as GuestData;
    const d = (await transfer(g.userId, { token: g.token })).body.data;
    const next = (await redeem(d.jayToken)).body.data;
    assert.equal(next.userId, g.userId);
    assert.deepEqual(cartOf(next.basket), ['prod-456:3']);
  });
});

describe('landing page over HTTP (the browser test drives it for real)', () => {
  const landing = (query: string) => t.server.app.inject({ method: 'GET', url: `/landing${query}` });
  const submit = (jayToken: string) =>
    t.server.app.inject({
      method: 'POST',
      url: '/landing',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ jayToken }).toString(),
    });

  it('GET checks without consuming; the form POST redeems once and renders the basket escaped; then 410', async () => {
    await t.server.store.upsertProducts('demo', [
      {
        productId: 'xss-1',
        variant: null,
        mainProductIdentifier: null,
        name: '<script>alert("x")</script>Evil & Co',
        brand: '"><img src=x onerror=alert(1)>',
        price: 1999,
        currency: 'EUR',
        taxRateBp: 1900,
        stock: null,
        shopSource: null,
        slug: null,
        images: ['javascript:alert(1)'],
      },
    ]);
    await assign('tv-landing', 'xss-1', 2);
    await assign('tv-landing', 'prod-789', 1);
    const d = (await transfer('tv-landing')).body.data;
    const query = new URL(d.url).search;

    for (let i = 0; i < 2; i++) {
      const page = await landing(query);
      assert.equal(page.statusCode, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
      assert.equal(page.headers['referrer-policy'], 'no-referrer');
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.match(page.body, /<form method="post" action="landing">/);
    }
    assert.ok(await t.server.store.getTransfer(hashTransferToken(d.jayToken), t.clock.now), 'GET did not consume the token');

    const shown = await submit(d.jayToken);
    assert.equal(shown.statusCode, 200);
    const html = shown.body;
    assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;Evil &amp; Co/);
    assert.match(html, /&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.ok(!html.includes('<script>alert'), 'no raw script from the catalogue');
    assert.ok(!html.includes('javascript:'), 'no javascript: image URL');
    assert.match(html, /Silk scarf/);
    assert.match(html, /€39\.95/);
    assert.match(html, /Total: €79\.93/);
    assert.match(html, /href="https:\/\/shop\.example\.com\/"/);

    const again = await submit(d.jayToken);
    assert.equal(again.statusCode, 410);
    assert.match(again.body, /expired or was already used/);
    const reopened = await landing(query);
    assert.equal(reopened.statusCode, 410);
    assert.match(reopened.body, /expired or was already used/);
  });

  it('friendly 410 pages for missing, unknown and expired tokens', async () => {
    for (const q of ['', '?jaySource=demo-tv', '?jayToken=', '?jayToken=nope', `?jayToken=${'x'.repeat(2000)}`, '?jayToken=a&jayToken=b']) {
      const page = await landing(q);
      assert.equal(page.statusCode, 410, q);
      assert.match(page.body, /<h1 data-testid="expired">/, q);
    }
    const d = (await transfer('tv-landing-exp')).body.data;
    const start = t.clock.now;
    try {
      t.clock.now = start + 60_000;
      assert.equal((await landing(new URL(d.url).search)).statusCode, 410);
      assert.equal((await submit(d.jayToken)).statusCode, 410);
    } finally {
      t.clock.now = start;
    }
    const empty = await t.server.app.inject({ method: 'POST', url: '/landing' });
    assert.equal(empty.statusCode, 410);
  });
});
