/** Guest tokens: issued and verified only with the service's own keys, bound to one partner. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPrivateKey, generateKeyPairSync, sign as signBytes, type KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { tokenError, invalidToken } from '../../src/auth/errors.js';
import { createTokenVerifier, issueGuestToken, type TokenVerifier } from '../../src/auth/tokens.js';
import { loadServiceKeys, type ServiceKeys } from '../../src/auth/service-keys.js';
import { Clock, ISSUER, T0, expectRejected, partner, rawToken, sec, secretKey, serviceKeyConfig, signToken, testServiceKeys } from './helpers.js';

const A = partner('partner-a', { secret: 'partner-a-secret-0123456789abcdef', issuer: 'partner-a' });
const B = partner('partner-b', { secret: 'partner-b-secret-0123456789abcdef' });
const DAY = 86_400_000;

describe('guest tokens', () => {
  let keys: ServiceKeys;
  let clock: Clock;
  let verifier: TokenVerifier;

  before(async () => {
    keys = await testServiceKeys();
    clock = new Clock();
    verifier = createTokenVerifier({ serviceKeys: keys, cacheSize: 0, now: clock.now });
  });

  it('issue → verify gives a guest principal of that partner', async () => {
    const token = await issueGuestToken(keys, A.id, 'guest-123', T0 + 30 * DAY);
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.kid, keys.signingKid);
    const claims = decodeJwt(token);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.guest, true);
    assert.equal(claims.pid, A.id);
    assert.equal(claims.exp, sec(T0 + 30 * DAY));
    assert.equal(typeof claims.iat, 'number');
    const p = await verifier.verify(A, token);
    assert.deepEqual({ ...p }, { partnerId: A.id, userId: 'guest-123', guest: true, expires: sec(T0 + 30 * DAY) * 1000 });
  });

  it('expires', async () => {
    const token = await issueGuestToken(keys, A.id, 'g', T0 + DAY);
    const c = new Clock(T0 + DAY + 60_000);
    await expectRejected(createTokenVerifier({ serviceKeys: keys, cacheSize: 0, now: c.now }).verify(A, token), /expired/);
  });

  it('rejects a tampered payload', async () => {
    const token = await issueGuestToken(keys, A.id, 'guest-123', T0 + DAY);
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = decodeJwt(token);
    const forged = `${h}.${rawToken({}, { ...claims, sub: 'someone-else' }).split('.')[1]}.${s}`;
    assert.notEqual(forged.split('.')[1], p);
    await expectRejected(verifier.verify(A, forged), /bad signature/, undefined, forged);
  });

  it('rejects a token signed by a foreign ES256 key that reuses our kid', async () => {
    const foreign = await generateKeyPair('ES256');
    const token = await signToken(
      foreign.privateKey,
      { alg: 'ES256', kid: keys.signingKid, typ: 'JWT' },
      { iss: ISSUER, sub: 'g', guest: true, pid: A.id, exp: sec(T0) + 3600 },
    );
    await expectRejected(verifier.verify(A, token), /bad signature/);
  });

  it('rejects a token with an unknown kid or none', async () => {
    const foreign = await generateKeyPair('ES256');
    const claims = { iss: ISSUER, sub: 'g', guest: true, pid: A.id, exp: sec(T0) + 3600 };
    await expectRejected(verifier.verify(A, await signToken(foreign.privateKey, { alg: 'ES256', kid: 'other' }, claims)), /known service key/);
    await expectRejected(verifier.verify(A, await signToken(foreign.privateKey, { alg: 'ES256' }, claims)), /known service key/);
    await expectRejected(verifier.verify(A, rawToken({ alg: 'none' }, claims)), /algorithm not allowed/);
  });

  it('rejects partner A’s guest token presented with partner B', async () => {
    const token = await issueGuestToken(keys, A.id, 'guest-123', T0 + DAY);
    await expectRejected(verifier.verify(B, token), /another partner/);
  });

  it('never verifies a token claiming our issuer with partner material', async () => {
    // Partner A's secret signs a token that pretends to be one of our guest tokens.
    const token = await signToken(secretKey(A.jwt.secret!), { alg: 'HS256' }, { iss: ISSUER, sub: 'g', guest: true, pid: A.id, exp: sec(T0) + 3600 });
    await expectRejected(verifier.verify(A, token), /algorithm not allowed/);
    const withKid = await signToken(secretKey(A.jwt.secret!), { alg: 'HS256', kid: keys.signingKid }, decodeJwt(token));
    await expectRejected(verifier.verify(A, withKid), /algorithm not allowed/);
  });

  it('rejects service-signed tokens that are not guest tokens, or lack sub/pid', async () => {
    const exp = T0 + DAY;
    await expectRejected(verifier.verify(A, await keys.sign({ sub: 'u', pid: A.id }, exp)), /not a guest token/);
    await expectRejected(verifier.verify(A, await keys.sign({ sub: 'u', guest: 'true', pid: A.id }, exp)), /not a guest token/);
    await expectRejected(verifier.verify(A, await keys.sign({ sub: 'u', guest: true }, exp)), /another partner/);
    await expectRejected(verifier.verify(A, await keys.sign({ guest: true, pid: A.id }, exp)), /"sub"/);
  });

  it('sign() overrides a caller-supplied iss and exp', async () => {
    const token = await keys.sign({ iss: 'evil', exp: 1, sub: 'u', guest: true, pid: A.id }, T0 + DAY);
    const claims = decodeJwt(token);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.exp, sec(T0 + DAY));
  });

  it('verifies with node:crypto exactly as jose jwtVerify did, across a matrix of headers, claims and signatures', async () => {
    const { config, kids } = await serviceKeyConfig(['ES256', 'EdDSA']);
    const [es, ed] = kids as [string, string];
    const set = await loadServiceKeys({ config, dataDir: '/nonexistent-not-used', issuer: ISSUER });
    const privateJwks = (JSON.parse(config) as { keys: (JWK & { kid: string })[] }).keys;
    const privateKeys = new Map(privateJwks.map((k) => [k.kid, createPrivateKey({ key: k as import('node:crypto').JsonWebKey, format: 'jwk' })]));
    // the verification of the code before: jose's jwtVerify with the published keys, found by kid
    const published = new Map<string, { alg: string; key: CryptoKey }>();
    for (const jwk of set.jwks().keys) published.set(jwk.kid!, { alg: jwk.alg!, key: (await importJWK(jwk, jwk.alg)) as CryptoKey });
    const keyFor = (header: JWTHeaderParameters): CryptoKey => {
      const found = header.kid === undefined ? undefined : published.get(header.kid);
      if (!found) throw invalidToken('token was not signed by a known service key');
      if (found.alg !== header.alg) throw invalidToken('token algorithm does not match the service key');
      return found.key;
    };
    const reference = (token: string): Promise<string> =>
      jwtVerify(token, keyFor, { issuer: ISSUER, algorithms: ['ES256', 'EdDSA'], requiredClaims: ['exp'], currentDate: new Date(T0), clockTolerance: 30 }).then(
        ({ payload }) => `ok ${String(payload.sub)}`,
        (err: unknown) => tokenError(err).message,
      );

    const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const sign = (key: KeyObject, input: string): string =>
      (key.asymmetricKeyType === 'ec' ? signBytes('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : signBytes(null, Buffer.from(input), key)).toString('base64url');
    const signatures: ((input: string) => string)[] = [
      (input) => sign(privateKeys.get(es)!, input),
      (input) => sign(privateKeys.get(ed)!, input),
      (input) => sign(foreign, input),
      (input) => sign(privateKeys.get(es)!, input).slice(0, 40),
      () => '',
      () => 'not*base64url',
    ];
    const headers: object[] = [
      { alg: 'ES256', kid: es, typ: 'JWT' }, { alg: 'EdDSA', kid: ed }, { alg: 'Ed25519', kid: ed }, { alg: 'ES256', kid: ed }, { alg: 'EdDSA', kid: es },
      { alg: 'ES256' }, { alg: 'ES256', kid: 'unknown' }, { alg: 'ES256', kid: 7 }, { alg: 'none', kid: es }, { alg: 'HS256', kid: es }, { alg: 'RS256', kid: es }, {},
      { alg: 'ES256', kid: es, crit: ['b64'], b64: false }, { alg: 'ES256', kid: es, crit: ['b64'], b64: true }, { alg: 'ES256', kid: es, crit: ['x'] },
      { alg: 'ES256', kid: es, crit: ['b64'] },
    ];
    const now = sec(T0);
    const good = (over: Record<string, unknown> = {}): JWTPayload => ({ iss: ISSUER, sub: 'g', guest: true, pid: A.id, exp: now + 3600, ...over });
    const claims: JWTPayload[] = [
      good(), good({ iss: 'someone-else' }), good({ iss: undefined }), good({ exp: undefined }), good({ sub: undefined }),
      good({ exp: now - 29 }), good({ exp: now - 30 }), good({ nbf: now + 30 }), good({ nbf: now + 31 }), good({ iat: 'x' }), good({ exp: 'y' }),
    ];
    const segment = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    let compared = 0;
    let accepted = 0;
    for (const header of headers) {
      for (const c of claims) {
        for (const signature of signatures) {
          const input = `${segment(header)}.${segment(c)}`;
          const token = `${input}.${signature(input)}`;
          const got = await set.verify(token, T0).then(
            (payload) => `ok ${String(payload.sub)}`,
            (err: unknown) => (err as Error).message,
          );
          const want = await reference(token);
          assert.equal(got, want, `${JSON.stringify(header)} ${JSON.stringify(c)} signature ${signatures.indexOf(signature)}`);
          compared++;
          if (want.startsWith('ok')) accepted++;
        }
      }
    }
    assert.equal(compared, headers.length * claims.length * signatures.length);
    assert.ok(accepted >= 10 && accepted < compared / 4, `both verdicts are exercised: ${accepted} of ${compared} accepted`);
  });

  it('cached guest tokens stay bound to their partner', async () => {
    const v = createTokenVerifier({ serviceKeys: keys, cacheSize: 10, now: clock.now });
    const token = await issueGuestToken(keys, A.id, 'guest-123', T0 + DAY);
    assert.equal((await v.verify(A, token)).guest, true);
    await expectRejected(v.verify(B, token), /another partner/);
  });

  it('a token remembered when it is issued is answered without a signature check, for its partner, until it expires', async () => {
    let checks = 0;
    const counting: ServiceKeys = { ...keys, sign: (c, e) => keys.sign(c, e), jwks: () => keys.jwks(), verifyWithKey: (tk, t) => (checks++, keys.verifyWithKey(tk, t)) };
    const c = new Clock();
    const v = createTokenVerifier({ serviceKeys: counting, cacheSize: 10, now: c.now });
    const expires = sec(T0 + DAY) * 1000;
    const token = await issueGuestToken(keys, A.id, 'guest-9', expires);
    const principal = { partnerId: A.id, userId: 'guest-9', guest: true, expires };
    v.remember(token, principal);
    assert.deepEqual({ ...(await v.verify(A, token)) }, principal);
    assert.equal(checks, 0, 'no signature check for a remembered token');
    assert.equal(v.cached(B, token), undefined);
    await expectRejected(v.verify(B, token), /another partner/);
    assert.equal(checks, 1, 'another partner gets the full check');
    c.advance(DAY);
    assert.equal(v.cached(A, token), undefined, 'gone at its expiry');

    const other = await issueGuestToken(keys, A.id, 'guest-10', c.ms + DAY);
    v.remember(other, { ...principal, userId: 'guest-10', expires: c.ms });
    assert.equal(v.cached(A, other), undefined, 'an expired principal is not remembered');
    const off = createTokenVerifier({ serviceKeys: counting, cacheSize: 0, now: c.now });
    off.remember(other, { ...principal, userId: 'guest-10', expires: c.ms + DAY });
    assert.equal(off.cached(A, other), undefined, 'no cache, nothing remembered');
  });
});
