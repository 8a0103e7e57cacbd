/** createGuestBasket (spec §3.7 without jayToken), guest tokens over HTTP, the service's JWKS and key rotation. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import type { BasketView } from '../../src/http/routes/baskets.js';
import { issueGuestToken } from '../../src/auth/tokens.js';
import { serviceKeyConfig } from '../auth/helpers.js';
import { ACME_KEY, DEMO_KEY, OPEN_KEY, startTestServer, userHeaders, type EnvelopeBody, type GuestData, type Res, type TestServer } from './harness.js';

const DAY = 86_400_000;


async function createGuest(t: TestServer, body?: unknown, apiKey = DEMO_KEY, prefix = '/v2'): Promise<Res<GuestData>> {
  const res = await t.server.app.inject({
    method: 'POST',
    url: `${prefix}/baskets/guests`,
    headers: { 'x-api-key': apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<GuestData>, headers: res.headers };
}

async function getBasket(t: TestServer, userId: string, token: string, apiKey = DEMO_KEY): Promise<Res<BasketView>> {
  const res = await t.server.app.inject({ method: 'GET', url: `/v2/baskets/users/${encodeURIComponent(userId)}`, headers: userHeaders(apiKey, token) });
  return { status: res.statusCode, body: res.json() as EnvelopeBody<BasketView>, headers: res.headers };
}

function expectError<T>(r: Res<T>, status: number, code: number, what: string): void {
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  assert.deepEqual(Object.keys(r.body), ['data', 'nextToken', 'error'], what);
  assert.equal(r.body.data, null, what);
  assert.equal(r.body.nextToken, null, what);
  assert.equal(r.body.error?.code, code, what);
  assert.equal(typeof r.body.error?.message, 'string', what);
}

const lines = (ls: { productId: string; count: number }[]) => ls.map((l) => `${l.productId}:${l.count}`);

describe('createGuestBasket', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('creates an unguessable guest with an empty basket and a 30-day guest token, under /v2 and bare', async () => {
    const seen = new Set<string>();
    for (const prefix of ['/v2', '']) {
      const r = await createGuest(t, undefined, DEMO_KEY, prefix);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.error, null);
      const g = r.body.data;
      assert.deepEqual(Object.keys(g).sort(), ['basket', 'expires', 'token', 'userId']);
      assert.match(g.userId, /^guest-[A-Za-z0-9_-]{22}$/);
      seen.add(g.userId);
      const in30Days = new Date(t.clock.now + 30 * DAY).toISOString().replace('.000Z', 'Z');
      assert.equal(g.expires, in30Days);
      assert.deepEqual([g.basket.cart, g.basket.saved, g.basket.checkout], [[], [], []]);
      const claims = decodeJwt(g.token);
      assert.equal(claims.sub, g.userId);
      assert.equal(claims.guest, true);
      assert.equal(claims.pid, 'demo');
      assert.equal(claims.iss, t.server.serviceKeys.issuer);
      assert.equal(claims.exp, Math.floor((t.clock.now + 30 * DAY) / 1000));
      assert.equal(decodeProtectedHeader(g.token).kid, t.server.serviceKeys.signingKid);
    }
    assert.equal(seen.size, 2);
  });

  it('accepts an empty JSON body and {} alike', async () => {
    for (const body of ['', {}, { products: [] }]) {
      const r = await createGuest(t, body);
      assert.equal(r.status, 200, JSON.stringify(body));
      assert.deepEqual(r.body.data.basket.cart, []);
    }
  });

  it('puts exactly the given products into the basket: duplicates summed, count 0 saved, default 1, catalogue data', async () => {
    const r = await createGuest(t, {
      products: [
        { productId: 'prod-123', count: 2 },
        { productId: 'shoe-42' },
        { productId: 'prod-789', count: 0 },
        { productId: 'prod-123', count: 3 },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const g = r.body.data;
    assert.deepEqual(g.basket.cart, [
      { productId: 'prod-123', count: 5 },
      { productId: 'shoe-42', count: 1, variant: '42', mainProductIdentifier: 'shoe' },
    ]);
    assert.deepEqual(lines(g.basket.saved), ['prod-789:1']);
    // the guest basket lives 30 days
    assert.equal(g.basket.expires, new Date(t.clock.now + 30 * DAY).toISOString().replace('.000Z', 'Z'));
    // and it is stored: the guest token reads it back
    const read = await getBasket(t, g.userId, g.token);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.data, g.basket);
  });

  it('applies the basket rules: 404 2012 unknown product, 422 3002 bad counts, 422 2008 beyond 20 cart lines', async () => {
    expectError(await createGuest(t, { products: [{ productId: 'prod-123' }, { productId: 'no-such-product' }] }), 404, 2012, 'unknown product');
    for (const products of [
      [{ productId: 'prod-123', count: 100 }],
      [{ productId: 'prod-123', count: -1 }],
      [{ productId: 'prod-123', count: 1.5 }],
      [{ productId: 'prod-123', count: '2' }],
      [{ productId: 'prod-123', count: null }],
      [{ productId: '' }],
      [{ count: 1 }],
      [{ productId: 'prod-123', count: 60 }, { productId: 'prod-123', count: 40 }],
    ]) {
      const r = await createGuest(t, { products });
      expectError(r, 422, 3002, JSON.stringify(products));
      assert.match(JSON.stringify(r.body.error?.details), /body\.products/);
    }
    for (const body of [{ products: {} }, { products: 'prod-123' }, [], '"x"']) expectError(await createGuest(t, body), 422, 3002, JSON.stringify(body));
    expectError(await createGuest(t, '{"products": ['), 400, 400, 'malformed JSON');

    const many = (n: number, count = 1) => Array.from({ length: n }, (_, i) => ({ productId: `p-${i}`, count }));
    const full = await createGuest(t, { products: [...many(20), { productId: 'extra', count: 0 }] }, OPEN_KEY);
    assert.equal(full.status, 200, 'exactly 20 cart lines plus saved ones are fine');
    assert.equal(full.body.data.basket.cart.length, 20);
    assert.equal(full.body.data.basket.saved.length, 1);
    const over = await createGuest(t, { products: many(21) }, OPEN_KEY);
    expectError(over, 422, 2008, '21 cart lines');
    assert.equal(over.body.error?.details, 'CART_LIMIT_REACHED');
    // 21 entries that merge into 20 lines are fine
    const merged = await createGuest(t, { products: [...many(20), { productId: 'p-0', count: 2 }] }, OPEN_KEY);
    assert.equal(merged.status, 200);
    assert.deepEqual(merged.body.data.basket.cart[0], { productId: 'p-0', count: 3 });
  });

  it('needs only the API key: 401 2023 without one; a Bearer token is not needed', async () => {
    expectError(await createGuest(t, undefined, ''), 401, 2023, 'no key');
    expectError(await createGuest(t, undefined, 'nope-nope-nope'), 401, 2023, 'unknown key');
  });

  it('the guest token works on the basket routes of its own user and partner only', async () => {
    const a = (await createGuest(t, { products: [{ productId: 'prod-123' }] })).body.data;
    const b = (await createGuest(t)).body.data;
    const add = await t.server.app.inject({
      method: 'POST',
      url: `/baskets/users/${a.userId}/products/prod-456`,
      headers: userHeaders(DEMO_KEY, a.token, { 'content-type': 'application/json' }),
      payload: '{"count": 2}',
    });
    assert.equal(add.statusCode, 200);
    assert.deepEqual(lines(add.json().data.cart), ['prod-123:1', 'prod-456:2']);
    expectError(await getBasket(t, b.userId, a.token), 403, 2019, "another guest's basket");
    expectError(await getBasket(t, a.userId, a.token, ACME_KEY), 401, 2002, 'guest of demo with the acme key');
    // a guest of acme cannot reach demo's basket of the same id either
    const acmeGuest = (await createGuest(t, undefined, ACME_KEY)).body.data;
    expectError(await getBasket(t, acmeGuest.userId, acmeGuest.token, DEMO_KEY), 401, 2002, 'acme guest with the demo key');
  });

  it("a guest's first request to the process that issued its token needs no signature check", async () => {
    const keys = t.server.serviceKeys;
    const verify = keys.verifyWithKey;
    let checks = 0;
    keys.verifyWithKey = (token, now) => (checks++, verify.call(keys, token, now));
    try {
      const g = (await createGuest(t)).body.data;
      assert.equal((await getBasket(t, g.userId, g.token)).status, 200);
      assert.equal(checks, 0, 'the issued token was remembered');
      // a token this process did not issue (another node's) is checked in full, once
      const elsewhere = await issueGuestToken(keys, 'demo', 'guest-from-another-node', t.clock.now + DAY);
      assert.equal((await getBasket(t, 'guest-from-another-node', elsewhere)).status, 200);
      assert.equal((await getBasket(t, 'guest-from-another-node', elsewhere)).status, 200);
      assert.equal(checks, 1);
    } finally {
      keys.verifyWithKey = verify;
    }
  });

  it('expires after 30 days (controllable clock), together with its basket', async () => {
    const g = (await createGuest(t, { products: [{ productId: 'prod-123' }] })).body.data;
    const start = t.clock.now;
    try {
      t.clock.now = start + 30 * DAY - 1000;
      const late = await getBasket(t, g.userId, g.token);
      assert.equal(late.status, 200);
      assert.deepEqual(lines(late.body.data.cart), ['prod-123:1']);
      // past exp plus the 30 s clock tolerance
      t.clock.now = start + 30 * DAY + 31_000;
      expectError(await getBasket(t, g.userId, g.token), 401, 2002, 'expired guest token');
      const stored = await t.server.store.getBasket({ partnerId: 'demo', userId: g.userId });
      assert.ok(stored !== null && stored.state.expires <= t.clock.now, 'the basket expired with the token');
    } finally {
      t.clock.now = start;
    }
  });

  it('rejects guest tokens signed by a foreign key that claims our kid and issuer', async () => {
    const g = (await createGuest(t)).body.data;
    const foreign = await generateKeyPair('ES256');
    const forged = await new SignJWT({ guest: true, pid: 'demo' })
      .setProtectedHeader({ alg: 'ES256', kid: t.server.serviceKeys.signingKid, typ: 'JWT' })
      .setIssuer(t.server.serviceKeys.issuer)
      .setSubject(g.userId)
      .setExpirationTime(Math.floor(t.clock.now / 1000) + 3600)
      .sign(foreign.privateKey);
    expectError(await getBasket(t, g.userId, forged), 401, 2002, 'foreign key');
  });

  it('/.well-known/jwks.json serves the public key that verifies the guest tokens it issued', async () => {
    const g = (await createGuest(t)).body.data;
    const res = await t.server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(res.statusCode, 200);
    const jwks = res.json() as JSONWebKeySet;
    assert.ok(jwks.keys.some((k) => k.kid === t.server.serviceKeys.signingKid));
    for (const k of jwks.keys) assert.equal((k as Record<string, unknown>).d, undefined);
    const { payload } = await jwtVerify(g.token, createLocalJWKSet(jwks), { issuer: t.server.serviceKeys.issuer, currentDate: new Date(t.clock.now) });
    assert.equal(payload.sub, g.userId);
  });
});

describe('service key rotation over HTTP', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  it('keeps old guest tokens valid until they expire; new ones use the new key; a retired key stops them', async () => {
    const { config, kids } = await serviceKeyConfig(['ES256', 'EdDSA'], 0);
    const [oldKid, newKid] = kids as [string, string];
    const doc = JSON.parse(config) as { signingKid: string; keys: { kid: string }[] };
    const oldOnly = JSON.stringify({ signingKid: oldKid, keys: doc.keys.filter((k) => k.kid === oldKid) });
    const rotated = JSON.stringify({ ...doc, signingKid: newKid });
    const retired = JSON.stringify({ signingKid: newKid, keys: doc.keys.filter((k) => k.kid === newKid) });

    const before = await startTestServer({ SERVICE_KEYS: oldOnly });
    servers.push(before);
    const old = (await createGuest(before)).body.data;
    assert.equal(decodeProtectedHeader(old.token).kid, oldKid);

    const after = await startTestServer({ SERVICE_KEYS: rotated });
    servers.push(after);
    assert.equal((await getBasket(after, old.userId, old.token)).status, 200, 'old token still valid after rotation');
    const fresh = (await createGuest(after)).body.data;
    assert.deepEqual(decodeProtectedHeader(fresh.token), { alg: 'EdDSA', kid: newKid, typ: 'JWT' });
    assert.equal((await getBasket(after, fresh.userId, fresh.token)).status, 200);
    const jwks = (await after.server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
    assert.deepEqual(jwks.keys.map((k) => k.kid), [oldKid, newKid]);

    // ... until it expires
    after.clock.now += 30 * DAY + 31_000;
    expectError(await getBasket(after, old.userId, old.token), 401, 2002, 'old token after its expiry');

    const dropped = await startTestServer({ SERVICE_KEYS: retired });
    servers.push(dropped);
    expectError(await getBasket(dropped, old.userId, old.token), 401, 2002, 'old token once its key is retired');
    assert.equal((await getBasket(dropped, fresh.userId, fresh.token)).status, 200);
  });
});
