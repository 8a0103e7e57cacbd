/**
 * The shop surface's foundation through the real server (shop-api.md §1, §2): POST /oauth2/token, shop access tokens
 * on both surfaces, the authenticated checkout scope (with test routes, until the checkout operations exist), the
 * shop's `{"message"}` errors under the device app's global hooks, the lockout, CORS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DEV_SHOP_CLIENT } from '../../src/config.js';
import { SHOP_AUDIENCE } from '../../src/auth/shop-audience.js';
import type { ShopRouteOptions } from '../../src/http/shop/index.js';
import { shopClientOf } from '../../src/http/shop/auth.js';
import { DEMO_KEY, startTestServer, TEST_PARTNERS, type EnvelopeBody, type GuestData, type TestServer } from './harness.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SHOPCO_SECRET = 'shopco-secret-abcdefghijklmnop';
const SHOPCO = {
  id: 'shopco',
  apiKeys: ['shopco-api-key-0001'],
  jwt: { secret: 'shopco-partner-secret-0123456789' },
  shop: {
    // one client with its secret given as a digest, one plain
    clients: [
      { id: 'shopco-web', secret: `sha256:${createHash('sha256').update(SHOPCO_SECRET).digest('hex')}`, scopes: ['checkout'] },
      { id: 'shopco.app~1', secret: 'odd:secret+with spaces%0123', scopes: ['checkout'] },
    ],
    url: 'https://shop.shopco.example/basket',
    recaptcha: { development: true },
  },
};
const PARTNERS_JSON = JSON.stringify([...TEST_PARTNERS, SHOPCO]);

/** Test routes in the authenticated checkout scope: who is calling, and a body with a reCAPTCHA. */
const testRoutes: FastifyPluginAsyncTypebox<ShopRouteOptions> = async (app, { recaptcha }) => {
  app.get('/test/whoami', { schema: { hide: true } }, async (request) => shopClientOf(request));
  app.post(
    '/test/echo',
    { schema: { hide: true, body: Type.Object({ name: Type.String({ maxLength: 20 }) }, { additionalProperties: false }) }, preHandler: recaptcha },
    async (request) => request.body,
  );
};

let t: TestServer;
before(async () => {
  t = await startTestServer({ PARTNERS_JSON }, { shopRoutes: [testRoutes] });
});
after(() => t?.close());

type Res = { status: number; body: Record<string, unknown>; headers: Record<string, unknown> };

async function tokenRequest(payload: string, headers: Record<string, string> = FORM, server: TestServer = t): Promise<Res> {
  const res = await server.server.app.inject({ method: 'POST', url: '/oauth2/token', headers, payload });
  return { status: res.statusCode, body: res.json() as Record<string, unknown>, headers: res.headers };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function devToken(server: TestServer = t): Promise<string> {
  const r = await tokenRequest(form({ grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id, client_secret: DEV_SHOP_CLIENT.secret }), FORM, server);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.access_token as string;
}

async function shopGet(url: string, headers: Record<string, string> = {}, server: TestServer = t): Promise<Res> {
  const res = await server.server.app.inject({ method: 'GET', url, headers });
  return { status: res.statusCode, body: res.json() as Record<string, unknown>, headers: res.headers };
}

function expectOAuthError(r: Res, status: number, error: string, what: string): void {
  assert.equal(r.status, status, `${what}: status (${JSON.stringify(r.body)})`);
  assert.equal(r.body.error, error, `${what}: error`);
  assert.equal(typeof r.body.error_description, 'string', `${what}: description`);
  assert.equal(r.headers['cache-control'], 'no-store', `${what}: no-store`);
  assert.equal(r.body.access_token, undefined);
}

function expectMessage(r: Res, status: number, what: string, message?: RegExp): void {
  assert.equal(r.status, status, `${what}: status (${JSON.stringify(r.body)})`);
  assert.deepEqual(Object.keys(r.body), ['message'], `${what}: {"message"} only`);
  assert.equal(typeof r.body.message, 'string');
  if (message) assert.match(r.body.message as string, message, what);
}

describe('POST /oauth2/token', () => {
  it('issues a token for form credentials: a JWT of the service for the shop audience, one hour, the scopes', async () => {
    const r = await tokenRequest(form({ grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id, client_secret: DEV_SHOP_CLIENT.secret }));
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.deepEqual(Object.keys(r.body).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
    assert.equal(r.body.token_type, 'Bearer');
    assert.equal(r.body.expires_in, 3600);
    assert.equal(r.body.scope, 'checkout');
    const claims = decodeJwt(r.body.access_token as string);
    assert.equal(claims.aud, SHOP_AUDIENCE);
    assert.equal(claims.sub, DEV_SHOP_CLIENT.id);
    assert.equal(claims.pid, 'demo');
    assert.equal(claims.iss, 'basket');
    assert.equal(claims.exp, Math.floor(t.clock.now / 1000) + 3600);
  });

  it('takes HTTP Basic (form-encoded id and secret), and a sha256: secret', async () => {
    const r = await tokenRequest(form({ grant_type: 'client_credentials' }), { ...FORM, authorization: basic('shopco.app~1', 'odd:secret+with spaces%0123') });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(decodeJwt(r.body.access_token as string).pid, 'shopco');
    const hashed = await tokenRequest(form({ grant_type: 'client_credentials', client_id: 'shopco-web', client_secret: SHOPCO_SECRET }));
    assert.equal(hashed.status, 200, JSON.stringify(hashed.body));
    assert.equal(decodeJwt(hashed.body.access_token as string).sub, 'shopco-web');
    // the same id in the form and in Basic is one method's id repeated: accepted
    const same = await tokenRequest(form({ grant_type: 'client_credentials', client_id: 'shopco-web' }), { ...FORM, authorization: basic('shopco-web', SHOPCO_SECRET) });
    assert.equal(same.status, 200);
  });

  it('401 invalid_client for a wrong secret or an unknown client; WWW-Authenticate only when Basic was used', async () => {
    const wrong = await tokenRequest(form({ grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id, client_secret: 'not-the-secret-000000' }));
    expectOAuthError(wrong, 401, 'invalid_client', 'wrong secret');
    assert.equal(wrong.headers['www-authenticate'], undefined);
    expectOAuthError(await tokenRequest(form({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: DEV_SHOP_CLIENT.secret })), 401, 'invalid_client', 'unknown client');
    // the hash of a sha256: entry is not its secret
    const digest = SHOPCO.shop.clients[0]!.secret;
    expectOAuthError(await tokenRequest(form({ grant_type: 'client_credentials', client_id: 'shopco-web', client_secret: digest })), 401, 'invalid_client', 'digest as secret');
    // a client of another partner with the dev secret
    expectOAuthError(await tokenRequest(form({ grant_type: 'client_credentials', client_id: 'shopco-web', client_secret: DEV_SHOP_CLIENT.secret })), 401, 'invalid_client', 'other client');
    for (const authorization of [basic(DEV_SHOP_CLIENT.id, 'wrong-secret-0000000'), 'Basic !!!notbase64', `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
      const r = await tokenRequest(form({ grant_type: 'client_credentials' }), { ...FORM, authorization });
      expectOAuthError(r, 401, 'invalid_client', authorization);
      assert.match(String(r.headers['www-authenticate']), /^Basic /);
    }
  });

  it('400 invalid_request for two client authentications at once', async () => {
    const headers = { ...FORM, authorization: basic(DEV_SHOP_CLIENT.id, DEV_SHOP_CLIENT.secret) };
    expectOAuthError(await tokenRequest(form({ grant_type: 'client_credentials', client_id: 'shopco-web' }), headers), 400, 'invalid_request', 'other id in the form');
    expectOAuthError(
      await tokenRequest(form({ grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id, client_secret: DEV_SHOP_CLIENT.secret }), headers),
      400,
      'invalid_request',
      'secret in both',
    );
  });

  it('400 unsupported_grant_type for another grant (after the client is authenticated)', async () => {
    for (const grant of ['password', 'authorization_code', 'refresh_token', 'client_credentials ']) {
      expectOAuthError(
        await tokenRequest(form({ grant_type: grant, client_id: DEV_SHOP_CLIENT.id, client_secret: DEV_SHOP_CLIENT.secret })),
        400,
        'unsupported_grant_type',
        grant,
      );
    }
    expectOAuthError(await tokenRequest(form({ grant_type: 'password', client_id: DEV_SHOP_CLIENT.id, client_secret: 'wrong-secret-0000000' })), 401, 'invalid_client', 'bad client first');
  });

  it('grants a requested subset of the scopes; 400 invalid_scope for a scope the client lacks', async () => {
    const creds = { grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id, client_secret: DEV_SHOP_CLIENT.secret };
    const ok = await tokenRequest(form({ ...creds, scope: 'checkout' }));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.scope, 'checkout');
    assert.equal(decodeJwt(ok.body.access_token as string).scope, 'checkout');
    for (const scope of ['admin', 'checkout admin', '', '   ']) {
      expectOAuthError(await tokenRequest(form({ ...creds, scope })), 400, 'invalid_scope', `scope ${JSON.stringify(scope)}`);
    }
  });

  it('400 invalid_request for missing or repeated fields, a bad form, another content type', async () => {
    const cases: [string, string, Record<string, string>][] = [
      ['no grant_type', form({ client_id: DEV_SHOP_CLIENT.id, client_secret: DEV_SHOP_CLIENT.secret }), FORM],
      ['no secret', form({ grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id }), FORM],
      ['no client', form({ grant_type: 'client_credentials' }), FORM],
      ['empty body', '', FORM],
      ['repeated grant_type', 'grant_type=client_credentials&grant_type=client_credentials&client_id=dev-shop-client&client_secret=dev-shop-secret-0123456789', FORM],
      ['repeated secret', 'grant_type=client_credentials&client_id=dev-shop-client&client_secret=a&client_secret=dev-shop-secret-0123456789', FORM],
      ['JSON', JSON.stringify({ grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id, client_secret: DEV_SHOP_CLIENT.secret }), { 'content-type': 'application/json' }],
      ['text', 'grant_type=client_credentials', { 'content-type': 'text/plain' }],
      ['no content type', form({ grant_type: 'client_credentials' }), {}],
    ];
    for (const [what, payload, headers] of cases) expectOAuthError(await tokenRequest(payload, headers), 400, 'invalid_request', what);
  });

  it('400 invalid_request for a URL the app-wide checks refuse', async () => {
    for (const url of ['/oauth2/token?x=%ED%A0%80', '/oauth2/token?x=%00']) {
      const res = await t.server.app.inject({ method: 'POST', url, headers: FORM, payload: 'grant_type=client_credentials' });
      expectOAuthError({ status: res.statusCode, body: res.json() as Record<string, unknown>, headers: res.headers }, 400, 'invalid_request', url);
    }
  });

  it('413 for a body far larger than a token request', async () => {
    const r = await tokenRequest(`grant_type=client_credentials&pad=${'x'.repeat(8000)}`);
    expectOAuthError(r, 413, 'invalid_request', 'huge body');
  });

  it('refuses GET and other methods without a device envelope', async () => {
    const r = await shopGet('/oauth2/token');
    expectMessage(r, 405, 'GET token');
    assert.equal(r.headers.allow, 'POST');
  });
});

describe('shop tokens on each surface', () => {
  it('a shop token opens the checkout scope: the caller is its client and partner', async () => {
    const r = await shopGet('/api/test/whoami', { authorization: `Bearer ${await devToken()}` });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { partnerId: 'demo', clientId: DEV_SHOP_CLIENT.id, scopes: ['checkout'] });
  });

  it('a shop token is refused on the device surface (401 2002), whatever the user id', async () => {
    const token = await devToken();
    for (const userId of [DEV_SHOP_CLIENT.id, 'u1']) {
      const res = await t.server.app.inject({ method: 'GET', url: `/v2/baskets/users/${encodeURIComponent(userId)}`, headers: { 'x-api-key': DEMO_KEY, authorization: `Bearer ${token}` } });
      const body = res.json() as EnvelopeBody;
      assert.equal(res.statusCode, 401);
      assert.equal(body.error?.code, 2002);
      assert.match(body.error?.message ?? '', /shop access token/);
    }
  });

  it('device tokens (partner JWT, guest JWT) are refused on the shop surface', async () => {
    const guest = await t.server.app.inject({ method: 'POST', url: '/v2/baskets/guests', headers: { 'x-api-key': DEMO_KEY } });
    assert.equal(guest.statusCode, 200, guest.body);
    const guestToken = (guest.json() as EnvelopeBody<GuestData>).data.token;
    for (const [what, token] of [
      ['partner JWT', await t.demoToken('u1')],
      ['guest JWT', guestToken],
    ] as const) {
      const r = await shopGet('/api/test/whoami', { authorization: `Bearer ${token}` });
      expectMessage(r, 401, what);
      assert.match(String(r.headers['www-authenticate']), /^Bearer realm="shop", error="invalid_token"$/);
    }
  });

  it('401 {"message"} with WWW-Authenticate for no, garbled, forged or expired tokens', async () => {
    const missing = await shopGet('/api/test/whoami');
    expectMessage(missing, 401, 'missing', /missing/);
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="shop"');
    for (const authorization of ['Basic abc', 'Bearer', 'Bearer not.a.jwt', 'Bearer a b']) {
      const r = await shopGet('/api/test/whoami', { authorization });
      expectMessage(r, 401, authorization);
      assert.match(String(r.headers['www-authenticate']), /error="invalid_token"/);
    }
    const token = await devToken();
    const [h, p] = token.split('.');
    const other = (await devToken()).split('.')[2];
    // a payload of another client under this token's signature
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), sub: 'shopco-web', pid: 'shopco' })).toString('base64url')}.${token.split('.')[2]}`;
    expectMessage(await shopGet('/api/test/whoami', { authorization: `Bearer ${forged}` }), 401, 'forged payload', /signature/);
    expectMessage(await shopGet('/api/test/whoami', { authorization: `Bearer ${h}.${p}.${other}${other}` }), 401, 'bad signature');
  });

  it('an expired token is refused (and one still valid a second earlier was accepted)', async () => {
    const token = await devToken();
    const start = t.clock.now;
    try {
      t.clock.now = start + 3599_000;
      assert.equal((await shopGet('/api/test/whoami', { authorization: `Bearer ${token}` })).status, 200);
      t.clock.now = start + 3600_000;
      expectMessage(await shopGet('/api/test/whoami', { authorization: `Bearer ${token}` }), 401, 'expired', /expired/);
    } finally {
      t.clock.now = start;
    }
  });

  it('a token without the checkout scope, and one of a removed client, are refused', async () => {
    const exp = t.clock.now + 3600_000;
    const keys = t.server.serviceKeys;
    const noScope = await keys.sign({ sub: DEV_SHOP_CLIENT.id, aud: SHOP_AUDIENCE, pid: 'demo', scope: '' }, exp);
    const r = await shopGet('/api/test/whoami', { authorization: `Bearer ${noScope}` });
    expectMessage(r, 401, 'no scope', /checkout scope/);
    assert.match(String(r.headers['www-authenticate']), /error="insufficient_scope"/);
    const removed = await keys.sign({ sub: 'gone-client', aud: SHOP_AUDIENCE, pid: 'demo', scope: 'checkout' }, exp);
    expectMessage(await shopGet('/api/test/whoami', { authorization: `Bearer ${removed}` }), 401, 'unknown client', /no longer configured/);
    const otherPartner = await keys.sign({ sub: DEV_SHOP_CLIENT.id, aud: SHOP_AUDIENCE, pid: 'shopco', scope: 'checkout' }, exp);
    expectMessage(await shopGet('/api/test/whoami', { authorization: `Bearer ${otherPartner}` }), 401, 'client under another partner');
    const guestLike = await keys.sign({ sub: DEV_SHOP_CLIENT.id, pid: 'demo', scope: 'checkout', guest: true }, exp);
    expectMessage(await shopGet('/api/test/whoami', { authorization: `Bearer ${guestLike}` }), 401, 'no shop audience', /aud/);
  });

  it('a token of a client removed from the configuration stops working after the restart', async () => {
    const first = await startTestServer({ PARTNERS_JSON }, { shopRoutes: [testRoutes] });
    let second: TestServer | undefined;
    try {
      const r = await tokenRequest(form({ grant_type: 'client_credentials', client_id: 'shopco-web', client_secret: SHOPCO_SECRET }), FORM, first);
      const token = r.body.access_token as string;
      assert.equal((await shopGet('/api/test/whoami', { authorization: `Bearer ${token}` }, first)).status, 200);
      const without = { ...SHOPCO, shop: { ...SHOPCO.shop, clients: [SHOPCO.shop.clients[1]!] } };
      // same data directory: the same service keys, so only the missing client can refuse the token
      second = await startTestServer({ PARTNERS_JSON: JSON.stringify([...TEST_PARTNERS, without]) }, { sameStoreAs: first, shopRoutes: [testRoutes] });
      second.clock.now = first.clock.now;
      expectMessage(await shopGet('/api/test/whoami', { authorization: `Bearer ${token}` }, second), 401, 'removed client', /no longer configured/);
    } finally {
      await second?.close();
      await first.close();
    }
  });
});

describe('shop errors under the app-wide hooks', () => {
  let token: string;
  before(async () => {
    token = await devToken();
  });
  const post = async (payload: string, headers: Record<string, string> = {}): Promise<Res> => {
    const res = await t.server.app.inject({
      method: 'POST',
      url: '/api/test/echo',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-limio-recaptcha': 'ok-token', ...headers },
      payload,
    });
    return { status: res.statusCode, body: res.json() as Record<string, unknown>, headers: res.headers };
  };

  it('answers a valid request', async () => {
    const r = await post(JSON.stringify({ name: 'x' }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { name: 'x' });
  });

  it('400 for bad JSON, too deep JSON, NUL, a field the schema refuses (named), a body missing', async () => {
    expectMessage(await post('{"name": '), 400, 'bad JSON', /JSON/);
    expectMessage(await post(`${'['.repeat(200)}${']'.repeat(200)}`), 400, 'deep JSON', /deeper/);
    expectMessage(await post(JSON.stringify({ name: 'a\u0000b' })), 400, 'NUL', /NUL/);
    expectMessage(await post(JSON.stringify({ name: 'x'.repeat(21) })), 400, 'too long', /body\.name/);
    expectMessage(await post(JSON.stringify({ name: 'x', other: 1 })), 400, 'extra field', /body/);
    expectMessage(await post(''), 400, 'no body', /body/);
  });

  it('413, 415, and the URL checks in the shop format', async () => {
    expectMessage(await post(JSON.stringify({ name: 'x'.repeat(40_000) })), 413, 'too large');
    expectMessage(await post('name=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'form on JSON route');
    expectMessage(await post('name', { 'content-type': 'text/plain' }), 415, 'text');
    for (const url of ['/api/test/whoami%00', '/api/test/whoami?q=%00', '/api/test/whoami?q=%FF', '/api/%ZZ']) {
      expectMessage(await shopGet(url, { authorization: `Bearer ${token}` }), 400, url);
    }
  });

  it('404 and 405 in the shop format; no device version negotiation on shop paths', async () => {
    expectMessage(await shopGet('/api/nothing/here'), 404, 'unknown path', /not found/);
    expectMessage(await shopGet('/api'), 404, 'bare prefix');
    const r = await shopGet('/api/test/whoami', { authorization: `Bearer ${token}`, 'x-api-version': '1999-01-01' });
    assert.equal(r.status, 200, 'X-API-Version is the device surface\'s');
    assert.equal(r.headers['x-api-version'], undefined);
    assert.ok(r.headers['x-request-id']);
    // and the device surface is as it was
    const device = await t.server.app.inject({ method: 'GET', url: '/v2/nothing' });
    assert.equal((device.json() as EnvelopeBody).error?.code, 404);
  });

  it('reCAPTCHA: the header is required and a rejected token is 400; checked after authentication', async () => {
    expectMessage(await post(JSON.stringify({ name: 'x' }), { 'x-limio-recaptcha': '' }), 400, 'missing', /x-limio-recaptcha/);
    expectMessage(await post(JSON.stringify({ name: 'x' }), { 'x-limio-recaptcha': 'invalid' }), 400, 'rejected', /reCAPTCHA/);
    expectMessage(await post(JSON.stringify({ name: 'x' }), { authorization: 'Bearer nope', 'x-limio-recaptcha': 'invalid' }), 401, 'auth first');
  });
});

describe('shop CORS', () => {
  const preflight = (url: string, origin: string) =>
    t.server.app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });

  it("allows a partner's shop origin, with credentials, on /api only", async () => {
    const ok = await preflight('/api/checkout/initiate', 'https://shop.shopco.example');
    assert.equal(ok.statusCode, 204);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://shop.shopco.example');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    assert.match(String(ok.headers['access-control-allow-headers']), /x-limio-recaptcha/);
    const real = await shopGet('/api/test/whoami', { origin: 'https://shop.shopco.example', authorization: `Bearer ${await devToken()}` });
    assert.equal(real.headers['access-control-allow-origin'], 'https://shop.shopco.example');
  });

  it('refuses other origins (the device partners\' "*" included) and the token endpoint', async () => {
    for (const [url, origin] of [
      ['/api/checkout/initiate', 'https://evil.example'],
      ['/api/checkout/initiate', 'https://app.acme.example'],
      ['/oauth2/token', 'https://shop.shopco.example'],
    ] as const) {
      const r = await preflight(url, origin);
      assert.equal(r.statusCode, 403, `${url} ${origin}`);
      assert.deepEqual(r.json(), { message: "The request's Origin is not allowed" });
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
  });
});

describe('failed client authentications and the lockout', () => {
  it('counts toward the per-address lockout: then even the right secret gets 429 until the window ends', async () => {
    const s = await startTestServer({ PARTNERS_JSON, RATE_LIMIT_AUTH_FAILURES_IP: '3/1m' }, { shopRoutes: [testRoutes] });
    try {
      const good = form({ grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id, client_secret: DEV_SHOP_CLIENT.secret });
      const token = await devToken(s);
      // a bad bearer token on the checkout scope counts, as do the wrong secrets: three failures in all
      expectMessage(await shopGet('/api/test/whoami', { authorization: 'Bearer not.a.token' }, s), 401, 'bad bearer');
      for (let i = 0; i < 2; i++) {
        expectOAuthError(await tokenRequest(form({ grant_type: 'client_credentials', client_id: DEV_SHOP_CLIENT.id, client_secret: `guess-${i}-000000000000` }), FORM, s), 401, 'invalid_client', `guess ${i}`);
      }
      const locked = await tokenRequest(good, FORM, s);
      assert.equal(locked.status, 429);
      assert.equal(locked.body.error, 'invalid_request');
      assert.ok(Number(locked.headers['retry-after']) > 0);
      const api = await shopGet('/api/test/whoami', { authorization: `Bearer ${token}` }, s);
      expectMessage(api, 429, 'checkout scope locked too');
      s.clock.now += 61_000;
      assert.equal((await tokenRequest(good, FORM, s)).status, 200);
    } finally {
      await s.close();
    }
  });
});

describe('reCAPTCHA verifier unreachable', () => {
  it('502 {"message"} when the partner\'s siteverify cannot be reached', async () => {
    const gshop = {
      id: 'gshop',
      apiKeys: ['gshop-api-key-0001'],
      jwt: { secret: 'gshop-partner-secret-0123456789' },
      shop: { clients: [{ id: 'gshop-client', secret: 'gshop-client-secret-0123', scopes: ['checkout'] }], url: 'https://shop.gshop.example', recaptcha: { secret: 'google-site-secret' } },
    };
    // port 9 (discard) on loopback: nothing listens there in the test environment, so the connection is refused
    const s = await startTestServer({ PARTNERS_JSON: JSON.stringify([...TEST_PARTNERS, gshop]), RECAPTCHA_VERIFY_URL: 'http://127.0.0.1:9/siteverify' }, { shopRoutes: [testRoutes] });
    try {
      const tok = await tokenRequest(form({ grant_type: 'client_credentials', client_id: 'gshop-client', client_secret: 'gshop-client-secret-0123' }), FORM, s);
      const res = await s.server.app.inject({
        method: 'POST',
        url: '/api/test/echo',
        headers: { authorization: `Bearer ${tok.body.access_token as string}`, 'content-type': 'application/json', 'x-limio-recaptcha': 'some-token' },
        payload: JSON.stringify({ name: 'x' }),
      });
      expectMessage({ status: res.statusCode, body: res.json() as Record<string, unknown>, headers: res.headers }, 502, 'unreachable', /reCAPTCHA/);
    } finally {
      await s.close();
    }
  });
});
