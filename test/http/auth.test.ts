import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { issueGuestToken } from '../../src/auth/tokens.js';
import { JwksServer } from '../auth/helpers.js';
import { ACME_KEY, acmePrivateKey, acmePublicPem, demoSecret, DEMO_KEY, OPEN_KEY, sign, startTestServer, type EnvelopeBody, type TestServer } from './harness.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');
/** A demo-partner token built by hand, for headers SignJWT will not produce. */
function hmac(header: object, claims: object): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac('sha256', demoSecret).update(input).digest('base64url')}`;
}

async function getBasket(userId: string, headers: Record<string, string | undefined>) {
  const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const res = await t.server.app.inject({ method: 'GET', url: `/v2/baskets/users/${userId}`, headers: clean });
  return { status: res.statusCode, body: res.json() as EnvelopeBody };
}

function expectReject(r: { status: number; body: EnvelopeBody }, status: number, code: number, what: string) {
  assert.equal(r.status, status, `${what}: status`);
  assert.equal(r.body.error?.code, code, `${what}: code`);
  assert.equal(r.body.data, null, `${what}: no data`);
}

describe('auth matrix over HTTP', () => {
  it('accepts valid partner tokens (HS256 and RS256)', async () => {
    assert.equal((await getBasket('ok1', { 'x-api-key': DEMO_KEY, authorization: `Bearer ${await t.demoToken('ok1')}` })).status, 200);
    assert.equal((await getBasket('ok2', { 'x-api-key': ACME_KEY, authorization: `Bearer ${await t.acmeToken('ok2')}` })).status, 200);
    assert.equal((await getBasket('ok3', { 'x-api-key': DEMO_KEY, authorization: `bearer ${await t.demoToken('ok3')}` })).status, 200, 'scheme is case-insensitive');
  });

  it('401 2023 for a missing or unknown API key', async () => {
    const token = await t.demoToken('k1');
    expectReject(await getBasket('k1', { authorization: `Bearer ${token}` }), 401, 2023, 'missing key');
    expectReject(await getBasket('k1', { 'x-api-key': 'wrong-key-123', authorization: `Bearer ${token}` }), 401, 2023, 'unknown key');
  });

  it('401 2002 for missing, garbled or invalid tokens', async () => {
    const now = Math.floor(t.clock.now / 1000);
    const iss = 'demo-partner';
    const aud = 'basket';
    const cases: [string, string | undefined][] = [
      ['missing header', undefined],
      ['no scheme', await t.demoToken('m1')],
      ['basic scheme', 'Basic dXNlcjpwYXNz'],
      ['empty bearer', 'Bearer '],
      ['garbage', 'Bearer not.a.jwt'],
      ['bad signature', `Bearer ${await sign(new TextEncoder().encode('another-secret-0123456789abcdef'), 'HS256', {}, { sub: 'm1', iss, aud, exp: now + 60 })}`],
      ['wrong iss', `Bearer ${await sign(demoSecret, 'HS256', {}, { sub: 'm1', iss: 'someone-else', aud, exp: now + 60 })}`],
      ['wrong aud', `Bearer ${await sign(demoSecret, 'HS256', {}, { sub: 'm1', iss, aud: 'other-api', exp: now + 60 })}`],
      ['expired', `Bearer ${await sign(demoSecret, 'HS256', {}, { sub: 'm1', iss, aud, iat: now - 7200, exp: now - 3600 })}`],
      ['no exp', `Bearer ${await sign(demoSecret, 'HS256', {}, { sub: 'm1', iss, aud })}`],
      ['no sub', `Bearer ${await sign(demoSecret, 'HS256', {}, { iss, aud, exp: now + 60 })}`],
      ['alg none', `Bearer ${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: 'm1', iss, aud, exp: now + 60 }))}.`],
      // the demo partner allows HS256 only
      ['HS512 not allowed', `Bearer ${await sign(demoSecret, 'HS512', {}, { sub: 'm1', iss, aud, exp: now + 60 })}`],
      ['unknown crit header', `Bearer ${hmac({ alg: 'HS256', crit: ['x'], x: 1 }, { sub: 'm1', iss, aud, exp: now + 60 })}`],
      ['truncated signature', `Bearer ${(await t.demoToken('m1')).slice(0, -2)}`],
      ['tampered payload', `Bearer ${hmac({ alg: 'HS256' }, { sub: 'm1', iss, aud, exp: now + 60 }).replace(/\.[^.]+\./, `.${b64url(JSON.stringify({ sub: 'm1', iss, aud, exp: now + 7200 }))}.`)}`],
    ];
    for (const [what, authorization] of cases) {
      expectReject(await getBasket('m1', { 'x-api-key': DEMO_KEY, authorization }), 401, 2002, what);
    }
  });

  it('rejects HS/RS algorithm confusion: an HS256 token keyed with the partner public PEM', async () => {
    const now = Math.floor(t.clock.now / 1000);
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(JSON.stringify({ sub: 'rs1', iss: 'https://id.acme.example', aud: 'basket-api', exp: now + 60 }));
    const mac = createHmac('sha256', acmePublicPem).update(`${header}.${payload}`).digest('base64url');
    expectReject(await getBasket('rs1', { 'x-api-key': ACME_KEY, authorization: `Bearer ${header}.${payload}.${mac}` }), 401, 2002, 'HS256 with PEM');
    // and an ES256 token for a partner that allows RS256 only
    const es = await generateKeyPair('ES256');
    const esToken = await sign(es.privateKey, 'ES256', {}, { sub: 'rs1', iss: 'https://id.acme.example', aud: 'basket-api', exp: now + 60 });
    expectReject(await getBasket('rs1', { 'x-api-key': ACME_KEY, authorization: `Bearer ${esToken}` }), 401, 2002, 'ES256 for RS256 partner');
    // the genuine RS256 token still works
    const good = await sign(acmePrivateKey, 'RS256', {}, { sub: 'rs1', iss: 'https://id.acme.example', aud: 'basket-api', exp: now + 60 });
    assert.equal((await getBasket('rs1', { 'x-api-key': ACME_KEY, authorization: `Bearer ${good}` })).status, 200);
  });

  it('403 2019 when the token belongs to another user', async () => {
    expectReject(await getBasket('victim', { 'x-api-key': DEMO_KEY, authorization: `Bearer ${await t.demoToken('attacker')}` }), 403, 2019, 'other user');
  });

  it("401 2002 for a valid token presented with another partner's API key", async () => {
    expectReject(await getBasket('x1', { 'x-api-key': ACME_KEY, authorization: `Bearer ${await t.demoToken('x1')}` }), 401, 2002, 'demo token, acme key');
    expectReject(await getBasket('x1', { 'x-api-key': OPEN_KEY, authorization: `Bearer ${await t.acmeToken('x1')}` }), 401, 2002, 'acme token, open key');
  });

  it('a cached token is still judged by partner and by the exact header', async () => {
    const token = await t.demoToken('c1');
    assert.equal((await getBasket('c1', { 'x-api-key': DEMO_KEY, authorization: `Bearer ${token}` })).status, 200);
    expectReject(await getBasket('c1', { 'x-api-key': ACME_KEY, authorization: `Bearer ${token}` }), 401, 2002, 'cached for demo, acme key');
    assert.equal((await getBasket('c1', { 'x-api-key': DEMO_KEY, authorization: `Bearer ${token}` })).status, 200, 'demo key again');
    for (const form of [`bearer ${token}`, `Bearer   ${token}`, ` Bearer ${token}\t`]) {
      assert.equal((await getBasket('c1', { 'x-api-key': DEMO_KEY, authorization: form })).status, 200, JSON.stringify(form));
    }
    for (const form of [`Bearer ${token}x`, `Bearer ${token} x`, `Bearer ${token.slice(1)}`, `Bearer ${token},`]) {
      expectReject(await getBasket('c1', { 'x-api-key': DEMO_KEY, authorization: form }), 401, 2002, JSON.stringify(form));
    }
  });

  it('a cached token stops working once it expires (controllable clock)', async () => {
    const token = await t.demoToken('exp1', {}, 60);
    const h = { 'x-api-key': DEMO_KEY, authorization: `Bearer ${token}` };
    assert.equal((await getBasket('exp1', h)).status, 200);
    assert.equal((await getBasket('exp1', h)).status, 200, 'second use served from the cache');
    t.clock.now += 61_000 + 30_000; // past exp and the clock tolerance
    expectReject(await getBasket('exp1', h), 401, 2002, 'expired after caching');
  });

  it('accepts guest tokens issued by the service, only for their partner', async () => {
    const exp = t.clock.now + 30 * 86_400_000;
    const guest = await issueGuestToken(t.server.serviceKeys, 'demo', 'guest-1', exp);
    assert.equal((await getBasket('guest-1', { 'x-api-key': DEMO_KEY, authorization: `Bearer ${guest}` })).status, 200);
    expectReject(await getBasket('guest-1', { 'x-api-key': ACME_KEY, authorization: `Bearer ${guest}` }), 401, 2002, 'guest of demo with acme key');
    const [h, p, s] = guest.split('.') as [string, string, string];
    const forged = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    forged.sub = 'guest-2';
    expectReject(await getBasket('guest-2', { 'x-api-key': DEMO_KEY, authorization: `Bearer ${h}.${b64url(JSON.stringify(forged))}.${s}` }), 401, 2002, 'tampered guest token');
    // a partner-signed token that claims to come from the service is not a guest token
    const fake = await sign(demoSecret, 'HS256', { guest: true, pid: 'demo' }, { sub: 'g3', iss: t.server.serviceKeys.issuer, exp: Math.floor(exp / 1000) });
    expectReject(await getBasket('g3', { 'x-api-key': DEMO_KEY, authorization: `Bearer ${fake}` }), 401, 2002, 'partner secret posing as the service');
  });
});

describe('a JWKS partner over HTTP (issue 17, item 8)', () => {
  const jwks = new JwksServer();
  const JWKS_KEY = 'jwks-api-key-0001';
  let s: TestServer;
  let signers: { kid: string; privateKey: CryptoKey; jwk: JWK }[];

  before(async () => {
    const url = await jwks.start();
    signers = await Promise.all(
      ['k1', 'k2', 'k3'].map(async (kid) => {
        const { privateKey, publicKey } = await generateKeyPair('ES256');
        return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
      }),
    );
    const partners = [{ id: 'jwks', apiKeys: [JWKS_KEY], jwt: { jwksUrl: url, issuer: 'https://id.jwks.example' } }];
    s = await startTestServer({ PARTNERS_JSON: JSON.stringify(partners) });
  });
  after(async () => {
    await s.close();
    await jwks.stop();
  });

  /** The status, with the error code when there is one (401 2002). */
  const get = async (userId: string, token: string): Promise<string> => {
    const res = await s.server.app.inject({ method: 'GET', url: `/v2/baskets/users/${userId}`, headers: { 'x-api-key': JWKS_KEY, authorization: `Bearer ${token}` } });
    const { error } = res.json() as EnvelopeBody;
    return error ? `${res.statusCode} ${error.code}` : String(res.statusCode);
  };
  const token = (i: number, userId: string): Promise<string> => {
    const { kid, privateKey } = signers[i]!;
    return new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setSubject(userId).setIssuer('https://id.jwks.example').setExpirationTime(Math.floor(s.clock.now / 1000) + 3600).sign(privateKey);
  };

  it('a token answered from the cache gets 401 once its key has left the set', async () => {
    const [k1, k2] = signers as [(typeof signers)[0], (typeof signers)[0]];
    jwks.keys = [k1.jwk, k2.jwk];
    const [t1, t2] = await Promise.all([token(0, 'j1'), token(1, 'j2')]);
    assert.equal(await get('j1', t1), '200');
    assert.equal(await get('j1', t1), '200', 'from the cache');
    assert.equal(await get('j2', t2), '200');
    jwks.keys = [k2.jwk];
    s.clock.now += 10_000;
    // An unknown kid refetches the set, which no longer holds k1.
    assert.equal(await get('j3', await token(2, 'j3')), '401 2002');
    assert.equal(await get('j1', t1), '401 2002');
    assert.equal(await get('j2', t2), '200', 'k2 is still in the set');
    assert.equal(jwks.fetches, 2);
  });
});
