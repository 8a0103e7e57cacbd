/** The partner-token matrix: every accepted shape and every rejection reason (all BasketError 2002). */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, type CryptoKey, type JWTPayload } from 'jose';
import { ERRORS } from '../../src/domain/errors.js';
import { bearerToken, createTokenVerifier, type TokenVerifier } from '../../src/auth/tokens.js';
import type { ServiceKeys } from '../../src/auth/service-keys.js';
import {
  CERT_KEY_PEM,
  CERT_PEM,
  Clock,
  T0,
  expectRejected,
  partner,
  rawToken,
  sec,
  secretKey,
  signToken,
  testServiceKeys,
} from './helpers.js';

const SECRET = 'hs-partner-secret-0123456789abcdef';
const HS = partner('hs', { secret: SECRET, issuer: 'partner-hs', audience: 'basket' });
const good = (extra: JWTPayload = {}): JWTPayload => ({ sub: 'user-1', iss: 'partner-hs', aud: 'basket', exp: sec(T0) + 3600, ...extra });

describe('bearerToken', () => {
  it('extracts the token, scheme case-insensitive', () => {
    assert.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(bearerToken('bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(bearerToken('  BEARER   abc.def-_~+/=  '), 'abc.def-_~+/=');
  });

  it('rejects a missing header', async () => {
    for (const h of [undefined, '', '   ']) await expectRejected(Promise.resolve().then(() => bearerToken(h)), /missing/);
  });

  it('rejects other schemes and garbled tokens', async () => {
    const cases: [string, RegExp][] = [
      ['Basic dXNlcjpwYXNz', /Bearer scheme/],
      ['abc.def.ghi', /Bearer scheme/],
      ['Bearer', /malformed/],
      ['Bearer ', /malformed/],
      ['Bearer abc def', /malformed/],
      ['Bearer abc,def', /malformed/],
      ['Bearer "abc"', /malformed/],
    ];
    for (const [h, reason] of cases) await expectRejected(Promise.resolve().then(() => bearerToken(h)), reason);
  });

  it('maps to error 2002 / 401', async () => {
    assert.equal(ERRORS.AUTHORIZATION_HEADER_INVALID.code, 2002);
    assert.equal(ERRORS.AUTHORIZATION_HEADER_INVALID.status, 401);
  });
});

describe('partner tokens', () => {
  let serviceKeys: ServiceKeys;
  let clock: Clock;
  let verifier: TokenVerifier;
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey; pem: string };
  let es: { privateKey: CryptoKey; publicKey: CryptoKey };

  before(async () => {
    serviceKeys = await testServiceKeys();
    clock = new Clock();
    verifier = createTokenVerifier({ serviceKeys, cacheSize: 100, now: clock.now });
    const r = await generateKeyPair('RS256', { extractable: true });
    rsa = { ...r, pem: await exportSPKI(r.publicKey) };
    es = await generateKeyPair('ES256', { extractable: true });
  });

  const fresh = (cacheSize = 0): TokenVerifier => createTokenVerifier({ serviceKeys, cacheSize, now: clock.now });

  it('accepts HS256 with a shared secret', async () => {
    const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
    const p = await verifier.verify(HS, token);
    assert.deepEqual({ ...p }, { partnerId: 'hs', userId: 'user-1', guest: false, expires: (sec(T0) + 3600) * 1000 });
  });

  it('accepts RS256 with a PEM public key (alg derived from the key)', async () => {
    const p = partner('rs', { pem: rsa.pem, issuer: 'partner-rs' });
    const token = await signToken(rsa.privateKey, { alg: 'RS256' }, { sub: 'u-rs', iss: 'partner-rs', exp: sec(T0) + 60 });
    assert.equal((await verifier.verify(p, token)).userId, 'u-rs');
  });

  it('accepts PS256 for an RSA PEM when the partner lists it', async () => {
    const p = partner('rs-ps', { pem: rsa.pem, algorithms: ['RS256', 'PS256'] });
    // WebCrypto binds a key to one scheme: the same RSA key, imported for PSS.
    const pss = await importPKCS8(await exportPKCS8(rsa.privateKey), 'PS256');
    const tokenPss = await signToken(pss, { alg: 'PS256' }, { sub: 'u-pss', exp: sec(T0) + 60 });
    const tokenRs = await signToken(rsa.privateKey, { alg: 'RS256' }, { sub: 'u-rs', exp: sec(T0) + 60 });
    const v = fresh();
    assert.equal((await v.verify(p, tokenPss)).userId, 'u-pss');
    assert.equal((await v.verify(p, tokenRs)).userId, 'u-rs');
  });

  it('accepts ES256 with an X.509 certificate', async () => {
    const p = partner('cert', { pem: CERT_PEM });
    const key = await importPKCS8(CERT_KEY_PEM, 'ES256');
    const token = await signToken(key, { alg: 'ES256' }, { sub: 'u-cert', exp: sec(T0) + 60 });
    assert.equal((await verifier.verify(p, token)).userId, 'u-cert');
  });

  it('accepts ES256 with a public JWK', async () => {
    const p = partner('jwk', { jwk: { ...(await exportJWK(es.publicKey)) } as PartnerJwk, audience: 'basket' });
    const token = await signToken(es.privateKey, { alg: 'ES256', kid: 'any' }, { sub: 'u-es', aud: ['other', 'basket'], exp: sec(T0) + 60 });
    assert.equal((await verifier.verify(p, token)).userId, 'u-es');
  });

  it('accepts EdDSA with an Ed25519 JWK', async () => {
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    const p = partner('ed', { jwk: { ...(await exportJWK(ed.publicKey)) } as PartnerJwk });
    const token = await signToken(ed.privateKey, { alg: 'EdDSA' }, { sub: 'u-ed', exp: sec(T0) + 60 });
    assert.equal((await verifier.verify(p, token)).userId, 'u-ed');
  });

  it('rejects a bad signature', async () => {
    const token = await signToken(secretKey('another-secret-0123456789abcdef'), { alg: 'HS256' }, good());
    await expectRejected(fresh().verify(HS, token), /bad signature/, undefined, token);
  });

  it('rejects a tampered payload', async () => {
    const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
    const [h, , s] = token.split('.');
    const forged = `${h}.${rawToken({}, good({ sub: 'admin' })).split('.')[1]}.${s}`;
    await expectRejected(fresh().verify(HS, forged), /bad signature/);
  });

  it('rejects the wrong issuer and the wrong audience', async () => {
    const wrongIss = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ iss: 'someone-else' }));
    await expectRejected(fresh().verify(HS, wrongIss), /wrong issuer/);
    const noIss = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ iss: undefined }));
    await expectRejected(fresh().verify(HS, noIss), /"iss"/);
    const wrongAud = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ aud: 'shop' }));
    await expectRejected(fresh().verify(HS, wrongAud), /wrong audience/);
  });

  it('rejects an expired token, honouring the clock tolerance', async () => {
    const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: sec(T0) - 10 }));
    // 10 s late is within the default 30 s skew ...
    assert.equal((await fresh().verify(HS, token)).userId, 'user-1');
    // ... but not for a partner that allows no skew, nor 60 s late.
    await expectRejected(fresh().verify({ ...HS, jwt: { ...HS.jwt, clockToleranceSec: 0 } }, token), /expired/);
    const old = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: sec(T0) - 60 }));
    await expectRejected(fresh().verify(HS, old), /expired/, undefined, old);
  });

  it('requires exp and sub', async () => {
    const noExp = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: undefined }));
    await expectRejected(fresh().verify(HS, noExp), /"exp"/);
    const noSub = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ sub: undefined }));
    await expectRejected(fresh().verify(HS, noSub), /"sub"/);
    const emptySub = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ sub: '' }));
    await expectRejected(fresh().verify(HS, emptySub), /"sub"/);
    const textExp = await signToken(secretKey(SECRET), { alg: 'HS256' }, { ...good(), exp: 'tomorrow' } as unknown as JWTPayload);
    await expectRejected(fresh().verify(HS, textExp), /invalid "exp" claim/);
  });

  it('honours nbf', async () => {
    const future = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ nbf: sec(T0) + 120 }));
    await expectRejected(fresh().verify(HS, future), /not valid yet/);
    const past = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ nbf: sec(T0) - 120 }));
    assert.equal((await fresh().verify(HS, past)).userId, 'user-1');
  });

  it('rejects alg none', async () => {
    const token = rawToken({ alg: 'none', typ: 'JWT' }, good());
    await expectRejected(fresh().verify(HS, token), /algorithm not allowed/);
    const withSig = rawToken({ alg: 'none' }, good(), 'c2ln');
    await expectRejected(fresh().verify(HS, withSig), /algorithm not allowed/);
    const rsPartner = partner('rs-none', { pem: rsa.pem });
    await expectRejected(fresh().verify(rsPartner, token), /algorithm not allowed/);
  });

  it('rejects HS/RS confusion: HS256 signed with the RSA public PEM as the secret', async () => {
    const p = partner('rs-conf', { pem: rsa.pem });
    const token = await signToken(secretKey(rsa.pem), { alg: 'HS256' }, { sub: 'attacker', exp: sec(T0) + 60 });
    await expectRejected(fresh().verify(p, token), /algorithm not allowed/);
    // Even an explicit (invalid) HS entry cannot turn the PEM into an HMAC key: the registry refuses it, and
    // the verifier refuses to build such material.
    const bad = partner('rs-conf2', { pem: rsa.pem, algorithms: ['HS256'] });
    await assert.rejects(fresh().verify(bad, token), /does not fit/);
  });

  it('rejects an ES256 token for a partner that allows only RS256', async () => {
    const p = partner('rs-only', { pem: rsa.pem, algorithms: ['RS256'] });
    const token = await signToken(es.privateKey, { alg: 'ES256' }, { sub: 'u', exp: sec(T0) + 60 });
    await expectRejected(fresh().verify(p, token), /algorithm not allowed/);
  });

  it('rejects an RS256 token signed by another RSA key', async () => {
    const other = await generateKeyPair('RS256');
    const p = partner('rs-other', { pem: rsa.pem });
    const token = await signToken(other.privateKey, { alg: 'RS256' }, { sub: 'u', exp: sec(T0) + 60 });
    await expectRejected(fresh().verify(p, token), /bad signature/);
  });

  it('rejects garbage', async () => {
    for (const token of ['', 'abc', 'a.b.c', 'a.b', 'e30.e30.e30.e30.e30', rawToken({ alg: 'HS256' }, good()).slice(0, 20)]) {
      await expectRejected(fresh().verify(HS, token), /malformed/);
    }
  });

  describe('cache', () => {
    const wrongSecret = { ...HS, jwt: { ...HS.jwt, secret: 'wrong-secret-0123456789abcdefgh' } };

    it('a hit does not verify again; without a cache the same call fails', async () => {
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
      await v.verify(HS, token);
      // Same partner id, unusable material: only a cache hit can succeed.
      assert.equal((await v.verify(wrongSecret, token)).userId, 'user-1');
      const uncached = createTokenVerifier({ serviceKeys, cacheSize: 0, now: c.now });
      await uncached.verify(HS, token);
      await expectRejected(uncached.verify(wrongSecret, token), /bad signature/);
    });

    it('an expired entry is rejected once the clock passes exp', async () => {
      const strict = { ...HS, jwt: { ...HS.jwt, clockToleranceSec: 0 } };
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: sec(T0) + 60 }));
      await v.verify(strict, token);
      c.advance(59_000);
      await v.verify(strict, token);
      c.advance(1_000);
      await expectRejected(v.verify(strict, token), /expired/);
    });

    it('is bounded (LRU) and keyed by partner', async () => {
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 2, now: c.now });
      const [a, b, d] = await Promise.all(['a', 'b', 'd'].map((s) => signToken(secretKey(SECRET), { alg: 'HS256' }, good({ sub: s }))));
      await v.verify(HS, a!);
      await v.verify(HS, b!);
      await v.verify(wrongSecret, a!); // hit: a becomes most recent
      await v.verify(HS, d!); // evicts b
      assert.equal((await v.verify(wrongSecret, a!)).userId, 'a');
      await expectRejected(v.verify(wrongSecret, b!), /bad signature/);
      // Another partner id never sees partner hs's entries.
      await expectRejected(v.verify({ ...wrongSecret, id: 'hs2' }, a!), /bad signature/);
    });

    it('does not cache a token before its nbf', async () => {
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      // nbf 10 s ahead: accepted within the 30 s skew, but not cached.
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ nbf: sec(T0) + 10 }));
      await v.verify(HS, token);
      await expectRejected(v.verify(wrongSecret, token), /bad signature/);
    });

    it('does not cache rejections', async () => {
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
      await expectRejected(v.verify(wrongSecret, token), /bad signature/);
      assert.equal((await v.verify(HS, token)).userId, 'user-1');
    });
  });
});

type PartnerJwk = { kty: string } & Record<string, unknown>;
